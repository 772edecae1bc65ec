package replication

import (
	"fmt"
	"syscall"
)

// A source announces a copy's size before sending it, and the copy is verified only once whole: a
// hostile member with a genuine checkpoint could announce a terabyte and fill the holder's disk
// before the check refuses it. A holder therefore takes a copy only when its body and the state
// built from it (about as large again) fit the free space of the shard's disk, keeping a reserve.

// copyReserve is the free space a copy must leave on the holder's disk.
const copyReserve = 256 << 20

// freeSpace reads the free bytes of the file system holding dir; tests replace it.
var freeSpace = func(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// copyFits says why a copy of total body bytes, of which held are on disk already, cannot be
// taken into dir, or nil. A failed reading does not refuse the copy: the writes will tell.
func copyFits(dir string, total, held uint64) error {
	free, err := freeSpace(dir)
	if err != nil {
		return nil
	}
	need := 2*(total-held) + copyReserve
	if need > free {
		return fmt.Errorf("a copy of %d bytes does not fit: %d bytes free, %d needed for it and the state built from it", total, free, need)
	}
	return nil
}
