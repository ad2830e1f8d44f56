package procstat

import (
	"os"
	"testing"
)

func TestSelf(t *testing.T) {
	pid := os.Getpid()
	if cpu, err := CPUSeconds(pid); err != nil || cpu < 0 {
		t.Fatalf("CPUSeconds = %v, %v", cpu, err)
	}
	if rss, err := RSS(pid); err != nil || rss <= 0 {
		t.Fatalf("RSS = %v, %v", rss, err)
	}
	if n, err := FDs(pid); err != nil || n < 3 {
		t.Fatalf("FDs = %v, %v", n, err)
	}
}

func TestResultRoundTrip(t *testing.T) {
	in := Result{Mode: "echo", Conns: 100, Size: 64, Msgs: 12345, MsgsPerS: 6172.5, P99us: 900, SrvCPU: 0.25}
	out, err := ParseResult([]byte("some log line\n" + in.Line() + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if *out != in {
		t.Fatalf("got %+v, want %+v", *out, in)
	}
	if _, err := ParseResult([]byte("no result here\n")); err == nil {
		t.Fatal("ParseResult found a result in output without one")
	}
}
