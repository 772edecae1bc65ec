package hugepage

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

const hugeSize = 2 << 20

// Result says what Collapse did.
type Result struct {
	Mappings  int   // anonymous read-write mappings at least minBytes long
	Collapsed int64 // bytes now backed by huge pages after the call (as far as the kernel did it)
	Failed    int64 // bytes the kernel refused (out of huge pages, range changed); they stay as they were
	Sparse    int64 // bytes left alone because most of their pages were not in memory
}

// minResident is the share of a 2 MiB range that must be in memory for it to be collapsed: a
// collapse fills the holes, and the heap holds many freed (returned) pages that must stay free.
const minResident = 0.9

// mostlyResident reports whether at least minResident of the 2 MiB at p are in memory (mincore).
func mostlyResident(p uintptr, vec []byte) bool {
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, p, hugeSize, uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return false
	}
	n := 0
	for _, b := range vec {
		n += int(b & 1)
	}
	return float64(n) >= minResident*float64(len(vec))
}

// Collapse asks the kernel to back every private anonymous read-write mapping of at least minBytes
// (the Go heap's arenas are 64 MiB) with huge pages, 2 MiB at a time, skipping ranges that are
// mostly not in memory (call debug.FreeOSMemory first so the heap's free pages are not). It is synchronous and costs
// about what copying the mapped memory costs. It returns an error only when the kernel offers no
// such thing (MADV_COLLAPSE unsupported, or THP disabled).
func Collapse(minBytes int64) (Result, error) {
	var res Result
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return res, fmt.Errorf("hugepage: %w", err)
	}
	defer f.Close()
	var ranges [][2]uintptr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode [path]
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[1] != "rw-p" || fields[4] != "0" || len(fields) > 5 {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || int64(end-start) < minBytes {
			continue
		}
		ranges = append(ranges, [2]uintptr{uintptr(start), uintptr(end)})
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("hugepage: reading maps: %w", err)
	}
	res.Mappings = len(ranges)
	invalid := 0
	vec := make([]byte, hugeSize/os.Getpagesize())
	for _, r := range ranges {
		start := (r[0] + hugeSize - 1) &^ (hugeSize - 1)
		for p := start; p+hugeSize <= r[1]; p += hugeSize {
			if !mostlyResident(p, vec) {
				res.Sparse += hugeSize
				continue
			}
			// A raw call: the range is the heap's own memory, which a []byte view would alias.
			_, _, errno := unix.Syscall(unix.SYS_MADVISE, p, hugeSize, unix.MADV_COLLAPSE)
			var err error
			if errno != 0 {
				err = errno
			}
			switch {
			case err == nil:
				res.Collapsed += hugeSize
			case errors.Is(err, unix.EINVAL):
				// Unsupported, or the range changed under us (the heap grew or shrank since the
				// maps were read): only an EINVAL for every range means unsupported.
				res.Failed += hugeSize
				invalid++
			default:
				res.Failed += hugeSize
			}
		}
	}
	if res.Collapsed == 0 && invalid > 0 {
		return res, fmt.Errorf("hugepage: the kernel does not offer MADV_COLLAPSE here: %w", unix.EINVAL)
	}
	return res, nil
}
