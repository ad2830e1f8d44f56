package evhttp_test

import (
	"flag"
	"os"
	"testing"

	"github.com/eddyloop/eddy/evhttp"

	"github.com/eddyloop/eddy/internal/testutil"
)

// TestMain fails the run when a test leaves descriptors open or goroutines
// running: a server that forgets to close a connection fails here. The
// tests run with the quick reset of exchanges checked (CheckResets), but
// for the allocation counts; a run with -test.bench goes without.
func TestMain(m *testing.M) {
	flag.Parse()
	evhttp.CheckResets(flag.Lookup("test.bench").Value.String() == "")
	os.Exit(testutil.Main(m))
}
