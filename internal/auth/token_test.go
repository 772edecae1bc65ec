package auth

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestPrincipalHas(t *testing.T) {
	tests := []struct {
		roles []string
		role  string
		want  bool
	}{
		{[]string{RoleSearcher}, RoleSearcher, true},
		{[]string{RoleSearcher}, RoleRecorder, false},
		{[]string{RoleRecorder, RoleSearcher}, RoleRecorder, true},
		{[]string{RoleAdmin}, RoleOperator, true},
		{[]string{RoleAdmin}, RoleRecorder, true},
		{[]string{RoleOperator}, RoleAdmin, false},
		{nil, RoleSearcher, false},
	}
	for _, tt := range tests {
		p := Principal{Roles: tt.roles}
		if got := p.Has(tt.role); got != tt.want {
			t.Errorf("roles %v Has(%q) = %v, want %v", tt.roles, tt.role, got, tt.want)
		}
	}
}

func TestParseSecret(t *testing.T) {
	_, good, err := newSecret()
	if err != nil {
		t.Fatal(err)
	}
	key := good[len("fa_0123456789ab_"):]
	tests := []struct {
		name   string
		secret string
		wantID string // empty when malformed
	}{
		{"fresh secret", good, good[3:15]},
		{"fixed secret", "fa_0123456789ab_" + key, "0123456789ab"},
		{"empty", "", ""},
		{"no prefix", "xx_0123456789ab_" + key, ""},
		{"upper-case id", "fa_0123456789AB_" + key, ""},
		{"id not hex", "fa_0123456789zz_" + key, ""},
		{"separator missing", "fa_0123456789ab-" + key, ""},
		{"key too short", "fa_0123456789ab_" + key[1:], ""},
		{"key too long", "fa_0123456789ab_" + key + "A", ""},
		{"key not base64url", "fa_0123456789ab_" + "+" + key[1:], ""},
		{"padded key", "fa_0123456789ab_" + key[:42] + "=", ""},
		{"whitespace", " " + good[1:], ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := parseSecret(tt.secret)
			if tt.wantID == "" {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err %v, want ErrMalformed", err)
				}
				if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
					t.Errorf("error repeats the secret: %v", err)
				}
				return
			}
			if err != nil || id != tt.wantID {
				t.Errorf("id %q err %v, want %q", id, err, tt.wantID)
			}
		})
	}
}

func TestValidateRequest(t *testing.T) {
	tests := []struct {
		name      string
		agency    string
		country   string
		roles     []string
		wantRoles []string
		wantErr   []string // each "field value" the message must name
	}{
		{"ncb", "FR-NCB", "FR", []string{RoleRecorder, RoleSearcher}, []string{RoleRecorder, RoleSearcher}, nil},
		{"international body", "WCO-I2C", "", []string{RoleSearcher}, []string{RoleSearcher}, nil},
		{"roles deduplicated and ordered", "KE-CUSTOMS", "KE", []string{RoleOperator, RoleSearcher, RoleOperator, RoleAdmin},
			[]string{RoleAdmin, RoleSearcher, RoleOperator}, nil},
		{"lower-case agency", "fr-ncb", "FR", []string{RoleSearcher}, nil, []string{`agency "fr-ncb"`}},
		{"agency too short", "F", "FR", []string{RoleSearcher}, nil, []string{`agency "F"`}},
		{"agency starts with dash", "-FR", "FR", []string{RoleSearcher}, nil, []string{`agency "-FR"`}},
		{"agency too long", strings.Repeat("A", 33), "", []string{RoleSearcher}, nil, []string{"agency"}},
		{"country three letters", "FR-NCB", "FRA", []string{RoleSearcher}, nil, []string{`country "FRA"`}},
		{"country lower case", "FR-NCB", "fr", []string{RoleSearcher}, nil, []string{`country "fr"`}},
		{"no roles", "FR-NCB", "FR", nil, nil, []string{`roles ""`}},
		{"unknown role", "FR-NCB", "FR", []string{RoleSearcher, "root"}, nil, []string{`roles "root"`}},
		{"every problem at once", "x", "France", []string{"god"}, nil,
			[]string{`agency "x"`, `country "France"`, `roles "god"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roles, err := validateRequest(tt.agency, tt.country, tt.roles)
			if tt.wantErr == nil {
				if err != nil || !slices.Equal(roles, tt.wantRoles) {
					t.Errorf("roles %v err %v, want %v", roles, err, tt.wantRoles)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v, want ErrInvalid", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err %v is not a *FieldError", err)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
		})
	}
}
