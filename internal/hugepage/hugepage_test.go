package hugepage

import (
	"hash/crc32"
	"runtime"
	"testing"
)

// Collapsing the heap changes nothing the program sees; where the kernel offers huge pages it
// collapses something.
func TestCollapseKeepsContents(t *testing.T) {
	buf := make([]byte, 192<<20)
	for i := range buf {
		buf[i] = byte(i*7 + i>>13)
	}
	before := crc32.ChecksumIEEE(buf)
	res, err := Collapse(64 << 20)
	if runtime.GOOS == "linux" && res.Mappings == 0 {
		t.Fatalf("no heap mapping of 64 MiB found although 192 MiB are in use: %+v", res)
	}
	if err != nil {
		t.Logf("huge pages not offered here: %v", err)
	} else if res.Collapsed+res.Failed == 0 {
		t.Fatalf("nothing tried: %+v", res)
	} else {
		t.Logf("collapsed %d MB, refused %d MB in %d mappings", res.Collapsed>>20, res.Failed>>20, res.Mappings)
	}
	if after := crc32.ChecksumIEEE(buf); after != before {
		t.Fatalf("contents changed: %x -> %x", before, after)
	}
	runtime.KeepAlive(buf)
}
