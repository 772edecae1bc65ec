package replication

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fedarms/fedarms/record"
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

const commandVersion = 1

var errBadCommand = errors.New("replication: corrupt command")

// minRecordBytes is the least a record takes in a command: a length byte, then the codec version,
// thirteen empty fields and an empty list of other serials.
const minRecordBytes = 16

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
	if len(b) < 2 || b[0] != commandVersion {
		return errBadCommand
	}
	c.Op = Op(b[1])
	if c.Op < OpCreate || c.Op > OpDelete {
		return errBadCommand
	}
	r := reader{b: b[2:]}
	c.Principal.Agency = string(r.bytes())
	c.Principal.Country = string(r.bytes())
	c.Principal.Admin = r.byte() == 1
	// Check the count against the bytes left before making anything for it: each id takes at least
	// its length byte, each record at least minRecordBytes, so a small command cannot make a big
	// slice.
	n, least := r.uvarint(), uint64(1)
	if c.Op != OpDelete {
		least = minRecordBytes
	}
	if r.bad || n > uint64(len(r.b))/least {
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
