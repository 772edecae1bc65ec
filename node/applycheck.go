package node

import (
	"errors"
	"sort"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/replication"
)

// Every command is checked item by item where it is made (apply) and where a forwarded one is
// decoded (serveApply), with the API's rules: a member may forward anything, and an item no API
// would accept must not cost a log entry. The FSM checks again with the frozen rules of the
// command format (replication/itemcheck.go), so an entry that reached the log anyway is refused
// the same way on every replica. A bad item is refused as an item; the rest of the command goes on.

// checkCommand normalizes every item of cmd and checks it with the API's rules (record.Validate;
// the id syntax for a delete). It returns the command of the items that pass, an item error for
// each of the others, and where each kept item stands in cmd (nil when every item passed and the
// command is cmd itself).
func checkCommand(cmd *replication.Command) (kept *replication.Command, refused []replication.ItemError, pos []int) {
	check := func(i int, id string, err error) {
		if err == nil {
			return
		}
		ie := replication.ItemError{Index: i, ID: id, Code: replication.CodeInvalid, Message: err.Error()}
		var fe *record.FieldError
		if errors.As(err, &fe) {
			ie.Field = fe.Field
		}
		refused = append(refused, ie)
	}
	if cmd.Op == replication.OpDelete {
		for i, id := range cmd.IDs {
			check(i, id, record.ValidateID(id))
		}
	} else {
		for i := range cmd.Records {
			r := &cmd.Records[i]
			r.Normalize()
			check(i, r.ID, r.Validate(isCountry))
		}
	}
	kept, pos = withoutItems(cmd, refused)
	return kept, refused, pos
}

// withoutItems returns cmd without the items refused names, and where each kept item stands in cmd
// (nil when nothing is refused and the command is cmd itself). mergeRefused puts the answers back
// together.
func withoutItems(cmd *replication.Command, refused []replication.ItemError) (kept *replication.Command, pos []int) {
	if len(refused) == 0 {
		return cmd, nil
	}
	out := make([]bool, commandItems(cmd))
	for _, e := range refused {
		if e.Index >= 0 && e.Index < len(out) {
			out[e.Index] = true
		}
	}
	kept = &replication.Command{Op: cmd.Op, Principal: cmd.Principal}
	for i, skip := range out {
		if skip {
			continue
		}
		pos = append(pos, i)
		if cmd.Op == replication.OpDelete {
			kept.IDs = append(kept.IDs, cmd.IDs[i])
		} else {
			kept.Records = append(kept.Records, cmd.Records[i])
		}
	}
	return kept, pos
}

// commandItems is how many items a command carries.
func commandItems(c *replication.Command) int { return len(c.Records) + len(c.IDs) }

// mergeRefused adds the items checkCommand refused to the result of applying the rest, with every
// index pointing into the command as it was made.
func mergeRefused(res replication.Result, refused []replication.ItemError, pos []int) replication.Result {
	if len(refused) == 0 {
		return res
	}
	for i, e := range res.Errors {
		if e.Index >= 0 && e.Index < len(pos) {
			res.Errors[i].Index = pos[e.Index]
		}
	}
	res.Errors = append(res.Errors, refused...)
	sort.SliceStable(res.Errors, func(i, j int) bool { return res.Errors[i].Index < res.Errors[j].Index })
	return res
}
