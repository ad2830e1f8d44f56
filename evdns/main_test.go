package evdns

import (
	"os"
	"testing"

	"github.com/eddyloop/eddy/internal/testutil"
)

// TestMain fails the run when a test leaves descriptors open or goroutines
// running: every resolver socket must be closed when its query ends.
func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }
