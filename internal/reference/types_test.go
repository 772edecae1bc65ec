package reference

import (
	"slices"
	"testing"
)

func TestLookupType(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"pistol", []string{"pistol"}},
		{"PISTOL", []string{"pistol"}},
		{"revolver", []string{"revolver"}},
		{"handgun", []string{"pistol", "revolver"}},
		{"SMG", []string{"submachine_gun"}},
		{"sub-machine gun", []string{"submachine_gun"}},
		{"submachine_gun", []string{"submachine_gun"}},
		{"machine_gun", []string{"machine_gun"}},
		{"MG", []string{"machine_gun"}},
		{"carbine", []string{"rifle"}},
		{"Assault Rifle", []string{"rifle"}},
		{"sawn-off", []string{"shotgun"}},
		{"Sawn off shotgun", []string{"shotgun"}},
		{"пулемет", []string{"machine_gun"}},
		{"long gun", []string{"rifle", "shotgun"}},
		{"other", []string{"other"}},
	}
	for _, tt := range tests {
		got, ok := LookupType(tt.in)
		if !ok || !slices.Equal(got, tt.want) {
			t.Errorf("LookupType(%q) = %v, %v; want %v", tt.in, got, ok, tt.want)
		}
	}
	for _, in := range []string{"", "banana", "gun"} {
		if got, ok := LookupType(in); ok {
			t.Errorf("LookupType(%q) = %v, want no match", in, got)
		}
	}
}

func TestTypesTableParses(t *testing.T) {
	if _, err := parseTypes("data/types.csv"); err != nil {
		t.Fatal(err)
	}
}
