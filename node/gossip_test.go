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
		want    string
	}{
		{memberlist.StateAlive, 0, "alive"},
		{memberlist.StateAlive, healthRefresh, "alive"},
		{memberlist.StateAlive, suspectAfter, "alive"},
		{memberlist.StateAlive, suspectAfter + time.Millisecond, "suspect"},
		{memberlist.StateAlive, time.Hour, "suspect"},
		{memberlist.StateSuspect, 0, "suspect"},
		{memberlist.StateDead, 0, "dead"},
		{memberlist.StateDead, time.Hour, "dead"},
		{memberlist.StateLeft, time.Hour, "left"},
	}
	for _, c := range cases {
		if got := memberStatus(c.state, c.unheard); got != c.want {
			t.Errorf("memberStatus(%v, %v) = %s, want %s", c.state, c.unheard, got, c.want)
		}
	}
}
