package node

import (
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func TestMemberStatus(t *testing.T) {
	cases := []struct {
		state   memberlist.NodeStateType
		unheard time.Duration
		signed  bool
		want    string
	}{
		{memberlist.StateAlive, 0, false, "alive"},
		{memberlist.StateAlive, healthRefresh, false, "alive"},
		{memberlist.StateAlive, suspectAfter, false, "alive"},
		{memberlist.StateAlive, suspectAfter + time.Millisecond, false, "suspect"},
		{memberlist.StateAlive, time.Hour, false, "suspect"},
		{memberlist.StateSuspect, 0, false, "suspect"},
		{memberlist.StateDead, 0, false, "dead"},
		{memberlist.StateDead, time.Hour, false, "dead"},
		{memberlist.StateLeft, time.Hour, false, "left"},
		// Signed health heard lately outweighs gossip that the member is dead or suspect.
		{memberlist.StateDead, healthRefresh, true, "alive"},
		{memberlist.StateSuspect, 0, true, "alive"},
		{memberlist.StateDead, suspectAfter + time.Millisecond, true, "dead"},
		{memberlist.StateAlive, suspectAfter + time.Millisecond, true, "suspect"},
	}
	for _, c := range cases {
		if got := memberStatus(c.state, c.unheard, c.signed); got != c.want {
			t.Errorf("memberStatus(%v, %v, %v) = %s, want %s", c.state, c.unheard, c.signed, got, c.want)
		}
	}
}
