package main

import (
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// boltBaseline writes the records' binary encodings to a fresh bbolt file in batches of one
// transaction (one fsync) each, with the same options as a shard's state file. Decoding the input is
// not timed: this is the storage engine's rate, the ceiling an import through raft is compared with.
func boltBaseline(args []string) error {
	fs := newFlags("bolt-baseline")
	in := fs.String("in", "", "records, JSON lines")
	dir := fs.String("dir", "", "scratch directory")
	batch := fs.Int("batch", 1000, "records per transaction")
	fs.Parse(args)
	recs, err := readRecords(*in)
	if err != nil {
		return err
	}
	keys := make([][]byte, len(recs))
	vals := make([][]byte, len(recs))
	for i := range recs {
		keys[i] = []byte(recs[i].ID)
		vals[i] = recs[i].AppendBinary(nil)
	}
	os.MkdirAll(*dir, 0o700)
	path := filepath.Join(*dir, "baseline.db")
	os.Remove(path)
	db, err := bolt.Open(path, 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType, NoFreelistSync: true, InitialMmapSize: 256 << 20})
	if err != nil {
		return err
	}
	defer db.Close()
	t0 := time.Now()
	for i := 0; i < len(recs); i += *batch {
		end := min(i+*batch, len(recs))
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("records"))
			if err != nil {
				return err
			}
			b.FillPercent = 0.7
			for j := i; j < end; j++ {
				if err := b.Put(keys[j], vals[j]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	took := time.Since(t0)
	st, _ := os.Stat(path)
	return emit(map[string]any{
		"mode": "bolt-baseline", "records": len(recs), "batch": *batch, "seconds": took.Seconds(),
		"records_per_s": float64(len(recs)) / took.Seconds(), "file_mb": float64(st.Size()) / (1 << 20),
	})
}
