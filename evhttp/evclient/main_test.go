package evclient_test

import (
	"os"
	"testing"

	"github.com/eddyloop/eddy/internal/testutil"
)

// TestMain fails the run when a test leaves descriptors open or goroutines
// running: a client that forgets to close a connection fails here.
func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }
