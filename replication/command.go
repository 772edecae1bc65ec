package replication

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fedarms/fedarms/internal/record"
)

// Op is what a command does to each of its items.
type Op byte

// Command operations. Create fails on an existing id, Update on a missing one; Upsert (bulk import)
// does either; Delete removes ids.
const (
	OpCreate Op = 1 + iota
	OpUpdate
	OpUpsert
	OpDelete
)

func (o Op) String() string {
	switch o {
	case OpCreate:
		return "create"
	case OpUpdate:
		return "update"
	case OpUpsert:
		return "upsert"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", byte(o))
}

// Principal is who ordered a write, as far as ownership checks need to know.
type Principal struct {
	Agency  string
	Country string
	Admin   bool // acting for the General Secretariat: may write any country's records
}

// Command is the payload of one raft log entry.
type Command struct {
	Op        Op
	Principal Principal
	Records   []record.Record // for create, update, upsert
	IDs       []string        // for delete
}

// commandVersion is the format this release writes and reads (the first byte of every command).
const commandVersion = 1

var errBadCommand = errors.New("replication: corrupt command")

// minEncodedRecord is the fewest bytes a record takes in a command: its length prefix, the
// record's version byte, thirteen empty strings and an empty list of other serials. A count of
// records is checked against it before anything is allocated for them.
const minEncodedRecord = 1 + 1 + 13 + 1

// VersionError is a command in a format this release does not read: a newer release wrote it
// (or the bytes are damaged). It names both formats so an operator knows which release reads it.
type VersionError struct {
	Found byte // the format of the command
	Reads byte // the format this release reads
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("replication: command format %d; this release reads format %d", e.Found, e.Reads)
}

// MarshalBinary encodes the command for the raft log.
func (c *Command) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 64+len(c.Records)*160+len(c.IDs)*20)
	b = append(b, commandVersion, byte(c.Op))
	b = appendStr(b, c.Principal.Agency)
	b = appendStr(b, c.Principal.Country)
	if c.Principal.Admin {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	if c.Op == OpDelete {
		b = binary.AppendUvarint(b, uint64(len(c.IDs)))
		for _, id := range c.IDs {
			b = appendStr(b, id)
		}
		return b, nil
	}
	b = binary.AppendUvarint(b, uint64(len(c.Records)))
	var scratch []byte
	for i := range c.Records {
		scratch = c.Records[i].AppendBinary(scratch[:0])
		b = binary.AppendUvarint(b, uint64(len(scratch)))
		b = append(b, scratch...)
	}
	return b, nil
}

// UnmarshalBinary decodes a command; corrupt input gives an error, never a panic.
func (c *Command) UnmarshalBinary(b []byte) error {
	if len(b) < 2 {
		return errBadCommand
	}
	if b[0] != commandVersion {
		return &VersionError{Found: b[0], Reads: commandVersion}
	}
	c.Op = Op(b[1])
	if c.Op < OpCreate || c.Op > OpDelete {
		return errBadCommand
	}
	r := reader{b: b[2:]}
	c.Principal.Agency = string(r.bytes())
	c.Principal.Country = string(r.bytes())
	c.Principal.Admin = r.byte() == 1
	// Every item takes some bytes, so a count the rest of the command cannot hold is refused
	// before it sizes an allocation (a few KB must not ask for gigabytes).
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) || (c.Op != OpDelete && n > uint64(len(r.b)/minEncodedRecord)) {
		return errBadCommand
	}
	if c.Op == OpDelete {
		c.IDs = make([]string, n)
		for i := range c.IDs {
			c.IDs[i] = string(r.bytes())
		}
	} else {
		c.Records = make([]record.Record, n)
		for i := range c.Records {
			if err := c.Records[i].UnmarshalBinary(r.bytes()); err != nil || r.bad {
				return errBadCommand
			}
		}
	}
	if r.bad || len(r.b) != 0 {
		return errBadCommand
	}
	return nil
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type reader struct {
	b   []byte
	bad bool
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad, r.b = true, nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
