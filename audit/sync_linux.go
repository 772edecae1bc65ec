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

// preallocate reserves [off, off+n) so that later writes there change no file size and fdatasync
// need not flush one. Where fallocate is unsupported the file just grows by writes.
func preallocate(f *os.File, off, n int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, off, n)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return nil
	}
	return err
}
