package eval

import (
	"slices"
	"testing"
)

func TestNoiseForms(t *testing.T) {
	tests := []struct {
		serial string
		want   []string // skeletons, in any order
	}{
		{"S474826", []string{"474826"}},
		{"L 316259", []string{"316259"}},
		{"IMP-55-0931", []string{"550931", "1MP55"}},
		{"474826", nil}, // one token: nothing to leave out
		{"AB12", nil},   // what is left is too short
		{"069-32779", []string{"32779"}},
	}
	for _, tt := range tests {
		got := noiseForms(tt.serial)
		for _, w := range tt.want {
			if !slices.Contains(got, w) {
				t.Errorf("noiseForms(%q) = %v, want it to hold %q", tt.serial, got, w)
			}
		}
		if len(tt.want) == 0 && len(got) != 0 {
			t.Errorf("noiseForms(%q) = %v, want none", tt.serial, got)
		}
	}
}
