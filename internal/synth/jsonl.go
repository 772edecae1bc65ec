package synth

import (
	"bufio"
	"fmt"
	"io"

	"github.com/fedarms/fedarms/internal/record"
)

// WriteJSONLines writes the first n records of seed's sequence to w, one JSON object per line,
// with the field names of the record contract, as encoding/json writes them (record.AppendJSON,
// several times faster, which matters when generating a full-size federation).
func WriteJSONLines(w io.Writer, n int, seed int64) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	g := New(seed)
	var line []byte
	for i := range n {
		rec := g.Next()
		line = record.AppendJSON(line[:0], &rec)
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("write record %d: %w", i+1, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("flush records: %w", err)
	}
	return nil
}
