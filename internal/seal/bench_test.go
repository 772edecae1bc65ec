package seal

import (
	"fmt"
	"io"
	"testing"
)

// BenchmarkSealValue is the cost a store pays per value written (Seal) and read (Open): a record
// is about 250 bytes, an import's raft log entry about 1 MB (4000 records), beside a plain copy
// of the same bytes, the floor of any write.
func BenchmarkSealValue(b *testing.B) {
	k, _ := NewKey(Generate())
	ad := AD([]byte("records"), []byte("FR-2024-000123"))
	for _, size := range []int{256, 1 << 20} {
		plain := make([]byte, size)
		sealed := k.Seal(nil, ad, plain)
		b.Run(fmt.Sprintf("bytes=%d/copy", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for range b.N {
				_ = append([]byte(nil), plain...)
			}
		})
		b.Run(fmt.Sprintf("bytes=%d/seal", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for range b.N {
				k.Seal(nil, ad, plain)
			}
		})
		b.Run(fmt.Sprintf("bytes=%d/open", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for range b.N {
				if _, err := k.Open(nil, ad, sealed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSealStream is a snapshot file's cost, per byte.
func BenchmarkSealStream(b *testing.B) {
	k, _ := NewKey(Generate())
	chunk := make([]byte, 1<<20)
	b.SetBytes(int64(len(chunk)))
	w := k.NewWriter(io.Discard, []byte("snapshot"))
	for range b.N {
		w.Write(chunk)
	}
	w.Close()
}
