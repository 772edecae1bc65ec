package replication

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

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

// Command formats (the first byte of every command). Format 1 is what every release has written
// since the first; format 2 is format 1 followed by a CRC-32C (Castagnoli) of everything before
// it, big-endian, so an entry damaged on a disk or a link is detected and halts the shard instead
// of being applied. This release reads both; it writes format 2 only once the federation has
// finalized the upgrade to it (Group.SetCommandFormat), since a release that reads only format 1
// halts on it.
const (
	// CommandFormatLegacy is the format every release reads.
	CommandFormatLegacy byte = 1
	// CommandFormatChecked is format 1 with a CRC-32C trailer.
	CommandFormatChecked byte = 2
	// CommandFormatOldest and CommandFormatNewest bound the formats this release reads.
	CommandFormatOldest = CommandFormatLegacy
	CommandFormatNewest = CommandFormatChecked
)

// commandVersion is the format MarshalBinary writes: the one every release reads (forwarded
// writes between nodes use it too).
const commandVersion = CommandFormatLegacy

var errBadCommand = errors.New("replication: corrupt command")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcSize is the length of format 2's trailer.
const crcSize = 4

// minEncodedRecord is the fewest bytes a record takes in a command: its length prefix, the
// record's version byte, thirteen empty strings and an empty list of other serials. A count of
// records is checked against it before anything is allocated for them.
const minEncodedRecord = 1 + 1 + 13 + 1

// VersionError is a command in a format this release does not read: a newer release wrote it
// (or the bytes are damaged). It names both formats so an operator knows which release reads it.
type VersionError struct {
	Found byte // the format of the command
	Reads byte // the newest format this release reads (it reads every format from 1 up to it)
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("replication: command format %d; this release reads formats %d to %d: a newer release wrote it, run one that reads command format %d",
		e.Found, CommandFormatOldest, e.Reads, e.Found)
}

// ChecksumError is a command whose checksum does not match its bytes: it was damaged after it was
// written (on a disk, or by a peer). It is never applied.
type ChecksumError struct {
	Want, Got uint32
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("replication: command checksum %08x, its bytes sum to %08x: the entry is damaged", e.Want, e.Got)
}

// MarshalBinary encodes the command in format 1, which every release reads.
func (c *Command) MarshalBinary() ([]byte, error) { return c.MarshalFormat(commandVersion) }

// MarshalFormat encodes the command in format f (CommandFormatLegacy or CommandFormatChecked).
func (c *Command) MarshalFormat(f byte) ([]byte, error) {
	if f < CommandFormatOldest || f > CommandFormatNewest {
		return nil, fmt.Errorf("replication: no command format %d", f)
	}
	b := make([]byte, 0, 64+crcSize+len(c.Records)*160+len(c.IDs)*20)
	b = append(b, f, byte(c.Op))
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
		return sealCommand(b, f), nil
	}
	b = binary.AppendUvarint(b, uint64(len(c.Records)))
	var scratch []byte
	for i := range c.Records {
		scratch = c.Records[i].AppendBinary(scratch[:0])
		b = binary.AppendUvarint(b, uint64(len(scratch)))
		b = append(b, scratch...)
	}
	return sealCommand(b, f), nil
}

// sealCommand appends format 2's checksum to b; format 1 has none.
func sealCommand(b []byte, f byte) []byte {
	if f == CommandFormatChecked {
		b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	}
	return b
}

// UnmarshalBinary decodes a command; corrupt input gives an error, never a panic.
func (c *Command) UnmarshalBinary(b []byte) error {
	if len(b) < 2 {
		return errBadCommand
	}
	switch b[0] {
	case CommandFormatLegacy:
	case CommandFormatChecked:
		if len(b) < 2+crcSize {
			return errBadCommand
		}
		body := b[:len(b)-crcSize]
		want, got := binary.BigEndian.Uint32(b[len(body):]), crc32.Checksum(body, castagnoli)
		if want != got {
			return &ChecksumError{Want: want, Got: got}
		}
		b = body
	default:
		return &VersionError{Found: b[0], Reads: CommandFormatNewest}
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
