package node

import (
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func TestMemberStatus(t *testing.T) {
	cases := []struct {
		state   memberlist.NodeStateType
		unheard time.Duration // since the member last spoke for itself
		want    string
	}{
		{memberlist.StateAlive, 0, "alive"},
		{memberlist.StateAlive, healthRefresh, "alive"},
		{memberlist.StateAlive, suspectAfter, "alive"},
		{memberlist.StateAlive, suspectAfter + time.Millisecond, "suspect"},
		{memberlist.StateAlive, time.Hour, "suspect"},
		{memberlist.StateSuspect, suspectAfter + time.Millisecond, "suspect"},
		{memberlist.StateDead, time.Hour, "dead"},
		{memberlist.StateLeft, time.Hour, "left"},
		// A member that spoke for itself lately is alive whatever memberlist was told.
		{memberlist.StateDead, healthRefresh, "alive"},
		{memberlist.StateSuspect, 0, "alive"},
	}
	for _, c := range cases {
		if got := memberStatus(c.state, c.unheard); got != c.want {
			t.Errorf("memberStatus(%v, %v) = %s, want %s", c.state, c.unheard, got, c.want)
		}
	}
}
