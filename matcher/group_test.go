package matcher

import "testing"

func TestGroupOf(t *testing.T) {
	ix := New(nil, Options{})
	ix.Put(Entry{Key: "FR-1", Serial: "ABC123", Make: "Glock", Group: 3})
	ix.PutMany([]Entry{{Key: "KE-1", Serial: "XYZ789", Make: "Glock", Group: 5}})
	for _, tc := range []struct {
		key   string
		group uint8
		ok    bool
	}{{"FR-1", 3, true}, {"KE-1", 5, true}, {"DE-1", 0, false}} {
		if g, ok := ix.GroupOf(tc.key); g != tc.group || ok != tc.ok {
			t.Errorf("GroupOf(%s) = %d %v, want %d %v", tc.key, g, ok, tc.group, tc.ok)
		}
	}
	ix.Put(Entry{Key: "FR-1", Serial: "ABC123", Make: "Glock", Group: 4}) // same serials: attributes only
	if g, _ := ix.GroupOf("FR-1"); g != 4 {
		t.Errorf("after a Put under group 4: %d", g)
	}
	ix.Delete("FR-1")
	if _, ok := ix.GroupOf("FR-1"); ok {
		t.Error("a deleted key still has a group")
	}
}
