package node

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestReadFrameLimit(t *testing.T) {
	var ok bytes.Buffer
	if err := writeFrame(&ok, map[string]string{"serial": strings.Repeat("x", 200<<10)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		in    []byte
		limit int
		want  error
	}{
		{"fits", ok.Bytes(), 1 << 20, nil},
		{"over the limit", ok.Bytes(), 100 << 10, errFrameTooBig},
		{"announced, never sent", binary.AppendUvarint(nil, 1<<20), 1 << 20, io.ErrUnexpectedEOF},
		{"cut short", ok.Bytes()[:ok.Len()/2], 1 << 20, io.ErrUnexpectedEOF},
	} {
		t.Run(c.name, func(t *testing.T) {
			var v map[string]string
			err := readFrameLimit(bufio.NewReader(bytes.NewReader(c.in)), &v, c.limit, nil)
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if err == nil && len(v["serial"]) != 200<<10 {
				t.Fatalf("decoded %d bytes of serial", len(v["serial"]))
			}
		})
	}
}

func TestFrameBudget(t *testing.T) {
	b := &frameBudget{inUse: map[peer.ID]int{}, perPeer: 100, all: 150}
	if err := b.take("a", 100); err != nil {
		t.Fatal(err)
	}
	if err := b.take("a", 1); !errors.Is(err, errOverBudget) {
		t.Fatalf("a member over its share: %v", err)
	}
	if err := b.take("b", 60); !errors.Is(err, errOverBudget) {
		t.Fatalf("over the total: %v", err)
	}
	b.give("a", 100)
	if err := b.take("b", 100); err != nil || len(b.inUse) != 1 || b.total != 100 {
		t.Fatalf("after give: %v %v %d", err, b.inUse, b.total)
	}
}
