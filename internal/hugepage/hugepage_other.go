//go:build !linux

package hugepage

import "errors"

// Result says what Collapse did.
type Result struct {
	Mappings  int
	Collapsed int64
	Failed    int64
	Sparse    int64
}

// Collapse is only available on Linux.
func Collapse(minBytes int64) (Result, error) {
	return Result{}, errors.New("hugepage: only on Linux")
}
