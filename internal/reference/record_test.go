package reference_test

import (
	"slices"
	"testing"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/reference"
)

// The type table cannot import record (reference sits below it), so this test keeps the copy
// of the type list honest.
func TestEveryRecordTypeResolvesToItself(t *testing.T) {
	for _, ty := range record.Types {
		got, ok := reference.LookupType(ty)
		if !ok || !slices.Equal(got, []string{ty}) {
			t.Errorf("LookupType(%q) = %v, %v; want [%s]", ty, got, ok, ty)
		}
	}
}
