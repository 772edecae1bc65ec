package audit

import (
	"errors"
	"os"
	"syscall"
)

// datasync flushes the file's data without its timestamps: one device flush per batch.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// preallocate reserves [off, off+n) by writing zeros there, so that later writes change no file
// size and find their blocks already written: fdatasync then flushes the data and nothing else. A
// fallocated range would be "unwritten" extents, and the first write into each block would make
// every fdatasync commit a metadata change too (measured on this project's disk: 0.21-0.23 ms a
// sync in fallocated space, 0.12-0.13 ms in zeroed space).
func preallocate(f *os.File, off, n int64) error {
	zeros := make([]byte, min(n, 64<<10))
	for n > 0 {
		w := min(n, int64(len(zeros)))
		if _, err := f.WriteAt(zeros[:w], off); err != nil {
			return err
		}
		off += w
		n -= w
	}
	return nil
}

// lockFile claims f for this open file: a second open of the same file, from this process or
// another, fails to lock it until f is closed.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
