package replication

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// benchLogStores yields the stores to compare: the in-memory baseline, bbolt without fsync (the
// cost of the encoding and the B+tree), and bbolt as production runs it.
func benchLogStores() []struct {
	name string
	open func(b *testing.B) raft.LogStore
} {
	openBolt := func(noSync bool) func(b *testing.B) raft.LogStore {
		return func(b *testing.B) raft.LogStore {
			s, err := OpenLogStore(filepath.Join(b.TempDir(), "raft.db"), LogStoreOptions{NoSync: noSync})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}
	}
	return []struct {
		name string
		open func(b *testing.B) raft.LogStore
	}{
		{"store=inmem", func(*testing.B) raft.LogStore { return raft.NewInmemStore() }},
		{"store=bbolt-nosync", openBolt(true)},
		{"store=bbolt-fsync", openBolt(false)},
	}
}

// benchRaftLogs builds n entries from index first with payloadSize-byte commands.
func benchRaftLogs(first uint64, n, payloadSize int) []*raft.Log {
	payload := make([]byte, payloadSize)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	logs := make([]*raft.Log, n)
	for i := range logs {
		logs[i] = &raft.Log{Index: first + uint64(i), Term: 1, Type: raft.LogCommand, Data: payload, AppendedAt: time.Now()}
	}
	return logs
}

// BenchmarkLogStoreStoreLogs stores batches of 1 KB commands the way raft's leader does. The log is
// trimmed outside the timer the way raft's snapshots trim it, so the file stays at a realistic
// size however long the run.
func BenchmarkLogStoreStoreLogs(b *testing.B) {
	const payloadSize, keep = 1024, 8192
	for _, st := range benchLogStores() {
		for _, n := range []int{1, 64, 1024} {
			b.Run(fmt.Sprintf("%s/records=%d", st.name, n), func(b *testing.B) {
				s := st.open(b)
				first, next := uint64(1), uint64(1)
				b.ReportAllocs()
				b.SetBytes(int64(n * payloadSize))
				for b.Loop() {
					b.StopTimer()
					logs := benchRaftLogs(next, n, payloadSize)
					if next-first > 2*keep {
						if err := s.DeleteRange(first, next-keep-1); err != nil {
							b.Fatal(err)
						}
						first = next - keep
					}
					b.StartTimer()
					if err := s.StoreLogs(logs); err != nil {
						b.Fatal(err)
					}
					next += uint64(n)
				}
			})
		}
	}
}

// BenchmarkLogStoreGetLog reads 1 KB entries back in order, as a follower's replication does.
func BenchmarkLogStoreGetLog(b *testing.B) {
	const payloadSize = 1024
	for _, st := range benchLogStores() {
		if st.name == "store=bbolt-fsync" {
			continue // reads never sync; the nosync file is the same B+tree
		}
		for _, n := range []int{1024, 16384} {
			b.Run(fmt.Sprintf("%s/records=%d", st.name, n), func(b *testing.B) {
				s := st.open(b)
				for first := 1; first <= n; first += 1024 {
					if err := s.StoreLogs(benchRaftLogs(uint64(first), 1024, payloadSize)); err != nil {
						b.Fatal(err)
					}
				}
				var l raft.Log
				i := 0
				b.ReportAllocs()
				b.SetBytes(payloadSize)
				for b.Loop() {
					if err := s.GetLog(uint64(i%n)+1, &l); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}
