// Package hugepage backs a process's large heap mappings with transparent huge pages, on request.
//
// The matcher's index is a few hundred megabytes of flat arrays read at random: every lookup is a
// cache miss and, with 4 KiB pages, a TLB miss too, whose page walk on a virtual machine costs more
// than the miss itself. Linux's transparent huge pages remove most of those walks, but in the
// common "madvise" mode the Go heap never gets them (the runtime does not ask). Collapse asks the
// kernel (MADV_COLLAPSE, Linux 6.1 and later) to rebuild the large anonymous mappings the heap
// lives in with 2 MiB pages, once, after a big structure has been built. It changes nothing the
// program can see; where the kernel cannot or will not (THP set to "never", an older kernel,
// another OS), it reports that and does nothing.
//
// It imports nothing from fedarms.
package hugepage
