package config

import (
	"strings"
	"testing"
)

func TestSourcesValidated(t *testing.T) {
	for _, tc := range []struct {
		name    string
		role    string
		sources map[string][]string
		want    string // a problem's field, empty for none
	}{
		{"fed europe", RoleEdge, map[string][]string{"europe": {"ncb-fr", "ncb-fr-2"}}, ""},
		{"central takes none", RoleCentral, map[string][]string{"europe": {"ncb-fr"}}, "replication.sources"},
		{"unknown shard", RoleEdge, map[string][]string{"atlantis": {"ncb-fr"}}, "replication.sources.atlantis"},
		{"empty list", RoleEdge, map[string][]string{"europe": {}}, "replication.sources.europe"},
		{"itself", RoleEdge, map[string][]string{"europe": {"me"}}, "replication.sources.europe"},
		{"twice", RoleEdge, map[string][]string{"europe": {"ncb-fr", "ncb-fr"}}, "replication.sources.europe"},
		{"bad name", RoleEdge, map[string][]string{"europe": {"NCB FR"}}, "replication.sources.europe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Name, c.Role, c.Country = "me", tc.role, "FR"
			c.Replication.Sources = tc.sources
			ps := c.validateSources()
			if tc.want == "" {
				if len(ps) != 0 {
					t.Fatalf("problems %v", ps)
				}
				return
			}
			if len(ps) == 0 || !strings.HasPrefix(ps[0].Field, tc.want) {
				t.Fatalf("problems %v, want one on %s", ps, tc.want)
			}
		})
	}
}
