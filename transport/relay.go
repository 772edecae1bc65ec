package transport

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"
)

// How the reservation loop paces itself: it looks at its reservations every reserveCheckEvery (and
// at once when the roster changes or a connection drops), renews one that ends within
// reserveRenewBefore, and gives one relay reserveTimeout to answer.
const (
	reserveCheckEvery  = 5 * time.Second
	reserveRenewBefore = 10 * time.Minute
	reserveTimeout     = 10 * time.Second
)

// startRelay runs a circuit relay v2 service. It is started directly rather than through libp2p's
// relay manager, which waits for AutoNAT to call the host public; a central node is a relay by role.
//
// "Limits raised for roster members": the gater admits only members and the ACL lets only members
// reserve and only member-to-member circuits through, so every circuit is a member's. Its limits
// are therefore raised for all of them: no per-circuit duration or byte cap (raft replication and
// snapshots run through relays; libp2p's defaults of 2 minutes and 128 KiB would cut them), more
// reservations and circuits, per-IP caps that tolerate several members behind one NAT address, and
// larger buffers.
func startRelay(h host.Host, roster *Roster, l Limits) (*relayv2.Relay, error) {
	res := relayv2.DefaultResources()
	res.Limit = nil
	res.MaxReservations = l.RelayCircuits
	res.MaxCircuits = 64
	res.BufferSize = relayBufferSize
	res.MaxReservationsPerIP = l.ConnsPerIP
	res.MaxReservationsPerASN = l.RelayCircuits
	r, err := relayv2.New(h,
		relayv2.WithResources(res),
		relayv2.WithACL(rosterACL{roster}),
		// Members learn each other's addresses from the roster, not from reservations; return every
		// address so a member on a private network (and tests on loopback) can use the voucher too.
		relayv2.WithReservationAddressFilter(func(ma.Multiaddr) bool { return true }))
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	return r, nil
}

// rosterACL lets only members reserve a slot or open a circuit, and only to another member.
type rosterACL struct{ roster *Roster }

// AllowReserve admits members only.
func (a rosterACL) AllowReserve(p peer.ID, _ ma.Multiaddr) bool { return a.roster.Has(p) }

// AllowConnect admits member-to-member circuits only.
func (a rosterACL) AllowConnect(src peer.ID, _ ma.Multiaddr, dest peer.ID) bool {
	return a.roster.Has(src) && a.roster.Has(dest)
}

// circuitAddrs are the addresses at which a member with a reservation on central c is reachable.
func circuitAddrs(c Entry) []ma.Multiaddr {
	var out []ma.Multiaddr
	suffix := ma.StringCast("/p2p/" + c.PeerID.String() + "/p2p-circuit")
	for _, a := range c.AddrInfo().Addrs {
		out = append(out, a.Encapsulate(suffix))
	}
	return out
}

// reservation is a live slot on one relay.
type reservation struct {
	expires time.Time
}

// Reservations lists the relays this host holds a live reservation on.
func (h *Host) Reservations() []peer.ID {
	h.resMu.Lock()
	defer h.resMu.Unlock()
	var out []peer.ID
	for id, r := range h.reservations {
		if time.Now().Before(r.expires) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func (h *Host) kickReserver() {
	if h.reserveKick == nil {
		return
	}
	select {
	case h.reserveKick <- struct{}{}:
	default:
	}
}

// reserveLoop keeps a reservation on every central relay. A relay forgets a reservation when the
// connection to it drops, so a missing connection counts as a missing reservation.
func (h *Host) reserveLoop() {
	defer h.wg.Done()
	t := time.NewTicker(reserveCheckEvery)
	defer t.Stop()
	for {
		h.reserveAll()
		select {
		case <-h.closed:
			return
		case <-t.C:
		case <-h.reserveKick:
		}
	}
}

func (h *Host) reserveAll() {
	var wg sync.WaitGroup
	for _, e := range h.roster.List() {
		if e.Role != RoleCentral || e.PeerID == h.id || len(e.Addrs) == 0 {
			continue
		}
		if h.faults != nil && h.faults.Blocked(h.id, e.PeerID) {
			continue
		}
		h.resMu.Lock()
		r, ok := h.reservations[e.PeerID]
		h.resMu.Unlock()
		if ok && h.Connected(e.PeerID) && time.Until(r.expires) > reserveRenewBefore {
			continue
		}
		wg.Add(1)
		go func(e Entry) {
			defer wg.Done()
			h.reserve(e)
		}(e)
	}
	wg.Wait()
}

func (h *Host) reserve(e Entry) {
	ctx, cancel := contextWithTimeoutOrClose(reserveTimeout, h.closed)
	defer cancel()
	h.forgetDialFailures(e.PeerID)
	rsvp, err := client.Reserve(ctx, h.p2p, e.AddrInfo())
	h.resMu.Lock()
	defer h.resMu.Unlock()
	if err != nil {
		delete(h.reservations, e.PeerID)
		h.log.Debug("relay reservation failed", "relay", e.Name, "err", err)
		return
	}
	_, had := h.reservations[e.PeerID]
	h.reservations[e.PeerID] = reservation{expires: rsvp.Expiration}
	if !had {
		h.log.Info("relay reservation held", "relay", e.Name, "expires", rsvp.Expiration)
	}
}
