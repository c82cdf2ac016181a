package sqlite

import (
	"testing"

	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/store/storetest"
)

var _ store.Store = (*DB)(nil)

// TestContract runs the storage contract suite, the same tests with the
// same expected values as every other backend, on a fresh file each.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}
