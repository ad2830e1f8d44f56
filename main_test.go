package eddy_test

import (
	"os"
	"testing"

	"github.com/eddyloop/eddy/internal/testutil"
)

// TestMain fails the run when a test leaves descriptors open or goroutines
// running.
func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }
