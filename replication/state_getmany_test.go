package replication

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/internal/synth"
)

// filledState is a state file holding n generated records (sealed with key when not nil), written
// straight into its records bucket; it returns the records' ids.
func filledState(tb testing.TB, n int, key *seal.Key) (*State, []string) {
	tb.Helper()
	s, err := openState(filepath.Join(tb.TempDir(), "state.db"), key, true)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	g := synth.New(7)
	ids := make([]string, 0, n)
	for len(ids) < n {
		err := s.db.Update(func(tx *bolt.Tx) error {
			r := s.records(tx)
			var mem arena
			for range min(10000, n-len(ids)) {
				rec := g.Next()
				if err := r.put([]byte(rec.ID), rec.AppendBinary(nil), &mem); err != nil {
					return err
				}
				ids = append(ids, rec.ID)
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return s, ids
}

func testKey(tb testing.TB) *seal.Key {
	k, err := seal.NewKey(bytes.Repeat([]byte{7}, seal.KeySize))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// TestGetManyIsGet reads ids present and absent, some already found, in a plain and a sealed
// state: GetMany must give what Get gives, leave the found ones alone, and read only the positions
// it is asked for.
func TestGetManyIsGet(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		t.Run(fmt.Sprintf("sealed=%v", sealed), func(t *testing.T) {
			var key *seal.Key
			if sealed {
				key = testKey(t)
			}
			s, stored := filledState(t, 3000, key)
			rng := rand.New(rand.NewPCG(3, 5))
			var ids []string
			for range 500 {
				switch rng.IntN(4) {
				case 0:
					ids = append(ids, stored[rng.IntN(len(stored))]+"x") // absent, sorts after a present one
				case 1:
					ids = append(ids, "") // absent, before every key
				default:
					ids = append(ids, stored[rng.IntN(len(stored))])
				}
			}
			ids = append(ids, "~~~") // after every key
			recs := make([]record.Record, len(ids))
			found := make([]bool, len(ids))
			found[2] = true // already found elsewhere
			var only []int
			for i := range ids {
				if i%5 != 4 {
					only = append(only, i)
				}
			}
			slices.SortFunc(only, func(a, b int) int { return bytes.Compare([]byte(ids[a]), []byte(ids[b])) })
			if err := s.GetMany(ids, recs, found, only); err != nil {
				t.Fatal(err)
			}
			hits := 0
			for i, id := range ids {
				want, ok, err := s.Get(id)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case i == 2:
					if !found[i] || recs[i].ID != "" {
						t.Fatalf("id %d (%q), already found, was read again: %+v", i, id, recs[i])
					}
				case i%5 == 4:
					if found[i] {
						t.Fatalf("id %d (%q) was not asked for and was read", i, id)
					}
				case found[i] != ok || !reflect.DeepEqual(recs[i], want):
					t.Fatalf("id %d (%q): GetMany found=%v %+v, Get found=%v %+v", i, id, found[i], recs[i], ok, want)
				case ok:
					hits++
				}
			}
			if hits < 150 {
				t.Fatalf("only %d ids found: the test reads too few records", hits)
			}
		})
	}
}

func TestAppendRecordADIsRecordAD(t *testing.T) {
	for _, id := range []string{"", "FR-1", "a-much-longer-record-id:0123456789"} {
		if got, want := appendRecordAD([]byte("prefix"), []byte(id)), append([]byte("prefix"), recordAD([]byte(id))...); !bytes.Equal(got, want) {
			t.Fatalf("%q: %x, want %x", id, got, want)
		}
	}
}

// BenchmarkGetMany reads what a screening's chunk of 64 lines reads (544 records, ~8.5 a line) in
// key order from a sealed state, as node.getRecords does.
func BenchmarkGetMany(b *testing.B) {
	for _, n := range []int{200_000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			s, stored := filledState(b, n, testKey(b))
			rng := rand.New(rand.NewPCG(1, 2))
			const keys = 544
			sets := make([][]string, 64)
			for i := range sets {
				for range keys {
					sets[i] = append(sets[i], stored[rng.IntN(len(stored))])
				}
				slices.Sort(sets[i])
			}
			// Every page touched once, as in a node that has served for a while: the first touch of a
			// page just written is a page fault, which would be most of what is measured.
			if err := s.ForEach(func(*record.Record) error { return nil }); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ids := sets[i%len(sets)]
				i++
				recs := make([]record.Record, len(ids))
				found := make([]bool, len(ids))
				if err := s.GetMany(ids, recs, found, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*keys), "ns/record")
		})
	}
}
