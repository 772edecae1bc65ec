package httpapi

import (
	"context"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/wire"
)

func (f *fakeNode) CentralStatus() (wire.CentralStatus, error) { return wire.CentralStatus{}, f.err }
func (f *fakeNode) RemoveCentral(context.Context, auth.Principal, wire.CentralRemoval) (wire.RosterChange, error) {
	return wire.RosterChange{}, f.err
}
