package node

import "time"

// The node reads the time only through its clock (Options.Clock; DESIGN.md, "One clock"), so a
// test that moves a clock.Fake moves every deadline, window and backoff of the node with it.
// Times that come from raft (last contact) and the transport (last heard) are the wall clock's.

// now is the node's time.
func (n *Node) now() time.Time { return n.clock.Now() }

// since is how long ago t was on the node's clock.
func (n *Node) since(t time.Time) time.Duration { return n.clock.Now().Sub(t) }
