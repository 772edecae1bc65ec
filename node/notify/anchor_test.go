package notify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func anchorAt(node string, seq uint64, at time.Time) Anchor {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", node, seq)))
	return Anchor{Node: node, Seq: seq, Hash: hex.EncodeToString(sum[:]), Time: at}
}

func TestAnchorSignatureNamesItsNode(t *testing.T) {
	key, pub := newKey(t)
	_, otherPub := newKey(t)
	a := anchorAt("edge-fr-1", 42, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	if err := SignAnchor(key, &a); err != nil {
		t.Fatal(err)
	}
	if err := VerifyAnchor(pub, &a); err != nil {
		t.Fatalf("own anchor: %v", err)
	}
	if err := VerifyAnchor(otherPub, &a); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("another node's key: %v, want a bad signature", err)
	}
	for name, edit := range map[string]func(a *Anchor){
		"seq moved":         func(a *Anchor) { a.Seq = 41 },
		"hash replaced":     func(a *Anchor) { a.Hash = strings.Repeat("0", 64) },
		"time moved":        func(a *Anchor) { a.Time = a.Time.Add(time.Hour) },
		"another node name": func(a *Anchor) { a.Node = "edge-de-1" },
		"signer renamed":    func(a *Anchor) { s := *a.Sig; s.Signer = "edge-de-1"; a.Sig = &s },
	} {
		b := a
		edit(&b)
		if err := VerifyAnchor(pub, &b); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want a bad signature", name, err)
		}
	}
	b := a
	b.Sig = nil
	if err := VerifyAnchor(pub, &b); !errors.Is(err, ErrUnsigned) {
		t.Errorf("unsigned: %v", err)
	}
}

func TestApplyInboxAnchorsKeepTheFirstHashOfASeq(t *testing.T) {
	s, _, _ := openStore(t)
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	a := anchorAt("edge-fr-1", 10, t0)
	rewritten := a
	rewritten.Hash, rewritten.Time = strings.Repeat("a", 64), t0.Add(time.Minute)
	bad := a
	bad.Hash = "XYZ"
	outs, err := s.ApplyInbox([][]byte{
		item(t, InboxItem{Kind: InboxAnchor, Anchor: &a}),
		item(t, InboxItem{Kind: InboxAnchor, Anchor: &a}),
		item(t, InboxItem{Kind: InboxAnchor, Anchor: &rewritten}),
		item(t, InboxItem{Kind: InboxAnchor, Anchor: &bad}),
		item(t, InboxItem{Kind: InboxAnchor}),
	}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Refused != "" || outs[1].Refused != "" {
		t.Fatalf("the same anchor twice: %+v", outs[:2])
	}
	if !strings.Contains(outs[2].Refused, "seq 10") || !strings.Contains(outs[2].Refused, a.Hash) {
		t.Fatalf("a second hash for seq 10: %+v, want it refused naming the first", outs[2])
	}
	if outs[3].Refused == "" || outs[4].Refused == "" {
		t.Fatalf("malformed anchors applied: %+v", outs[3:])
	}
	got, err := s.Anchors("edge-fr-1")
	if err != nil || len(got) != 1 || got[0].Hash != a.Hash {
		t.Fatalf("anchors %+v, %v", got, err)
	}
}

// TestAnchorHistoryIsBoundedAndThinnedByTime applies a node's anchors of 45 days at one a minute
// (a new head each time) and checks what is kept: the last 1,000, then one per hour for 30 days,
// then one per day; it reports node.db's size.
func TestAnchorHistoryIsBoundedAndThinnedByTime(t *testing.T) {
	if testing.Short() {
		t.Skip("applies 64,800 anchors")
	}
	s, db, _ := openStore(t)
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	const minutes = 45 * 24 * 60
	before := fileSize(t, db.Path())
	var batch [][]byte
	for i := range minutes {
		a := anchorAt("edge-fr-1", uint64(i+1), t0.Add(time.Duration(i)*time.Minute))
		a.Sig = &Signature{Version: SignatureVersion, Signer: a.Node, Sig: bytes.Repeat([]byte{7}, 64)}
		batch = append(batch, item(t, InboxItem{Kind: InboxAnchor, Anchor: &a}))
		if len(batch) == 1000 || i == minutes-1 {
			if _, err := s.ApplyInbox(batch, uint64(i+1)); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	got, err := s.Anchors("edge-fr-1")
	if err != nil {
		t.Fatal(err)
	}
	// 1,000 recent (the last ~16.7 hours), 720 hourly before them, and one per day before those.
	recent, hourly := got[len(got)-anchorsRecent:], got[len(got)-anchorsRecent-anchorsHourly:len(got)-anchorsRecent]
	daily := got[:len(got)-anchorsRecent-anchorsHourly]
	if recent[len(recent)-1].Seq != minutes || recent[0].Seq != minutes-anchorsRecent+1 {
		t.Fatalf("recent from %d to %d", recent[0].Seq, recent[len(recent)-1].Seq)
	}
	for i := 1; i < len(hourly); i++ {
		if d := hourly[i].Time.Sub(hourly[i-1].Time); d != time.Hour {
			t.Fatalf("hourly anchors %d and %d are %v apart", i-1, i, d)
		}
	}
	for i := 1; i < len(daily); i++ {
		if d := daily[i].Time.Sub(daily[i-1].Time); d != 24*time.Hour {
			t.Fatalf("daily anchors %d and %d are %v apart", i-1, i, d)
		}
	}
	if len(daily) < 13 || len(daily) > 16 {
		t.Fatalf("%d daily anchors, want the ~14 days before the hourly month", len(daily))
	}
	after := fileSize(t, db.Path())
	t.Logf("%d anchors applied, %d kept (%d recent, %d hourly, %d daily); node.db %d KB -> %d KB",
		minutes, len(got), len(recent), len(hourly), len(daily), before/1024, after/1024)
}

func TestInboxSnapshotCarriesAnchors(t *testing.T) {
	src, _, _ := openStore(t)
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var entries [][]byte
	for i := range snapshotChunk + 5 { // more than one chunk: the walk resumes inside the anchors
		a := anchorAt(fmt.Sprintf("edge-%d", i%3), uint64(i+1), t0.Add(time.Duration(i)*time.Minute))
		entries = append(entries, item(t, InboxItem{Kind: InboxAnchor, Anchor: &a}))
	}
	h := hit("h1")
	entries = append(entries, item(t, InboxItem{Kind: InboxHit, Hit: &h, At: t0}))
	if _, err := src.ApplyInbox(entries, uint64(len(entries))); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := src.SnapshotInbox().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	dst, _, _ := openStore(t)
	if err := dst.RestoreInbox(uint64(len(entries)), &buf); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		node := fmt.Sprintf("edge-%d", i)
		want, _ := src.Anchors(node)
		got, err := dst.Anchors(node)
		if err != nil || len(got) != len(want) || len(want) < (snapshotChunk+5)/3 {
			t.Fatalf("%s: restored %d anchors of %d (%v)", node, len(got), len(want), err)
		}
	}
	if _, err := dst.Get("h1"); err != nil {
		t.Fatalf("hit not restored: %v", err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
