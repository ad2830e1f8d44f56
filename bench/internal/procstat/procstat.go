// Package procstat reads what the benchmark harness needs about a process
// from /proc: CPU time, resident set size and open descriptors, and defines
// the result line the load generator prints for the comparison driver.
package procstat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ClockTicks is the unit of utime and stime in /proc/PID/stat (USER_HZ),
// which is 100 on every Linux architecture Go supports.
const ClockTicks = 100

// CPUSeconds returns the user plus system CPU time of process pid (all of
// its threads, live and exited) in seconds.
func CPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may contain spaces and parentheses: fields start
	// after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return float64(u+s) / ClockTicks, nil
}

// RSS returns the VmRSS of process pid in bytes.
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(v))
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// FDs returns the number of open descriptors of process pid.
func FDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents), err
}

// ResultPrefix starts the one line of a load run's output that carries its
// Result as JSON.
const ResultPrefix = "RESULT "

// Result is what one run of the load generator measured. Fields that do not
// apply to the run's mode are zero.
type Result struct {
	Mode  string  `json:"mode"`            // "echo" or "idle" (the load modes), "wrk" (a wrk run, see cmd/compare)
	Proto string  `json:"proto,omitempty"` // "echo" or "http"; empty in older results: echo
	Conns int     `json:"conns"`           // connections opened
	Size  int     `json:"size"`            // message (request) size in bytes
	Rate  float64 `json:"rate"`            // offered msgs/s in total, 0 for closed loop

	// echo and wrk modes
	WindowSec float64 `json:"window_s"`   // length of the measuring window
	Msgs      int64   `json:"msgs"`       // round trips (requests) completed in the window
	MsgsPerS  float64 `json:"msgs_per_s"` // Msgs / WindowSec
	P50us     int64   `json:"p50_us"`     // round-trip latency percentiles
	P99us     int64   `json:"p99_us"`
	Errors    int64   `json:"errors"`     // connections lost or wrong bytes (wrk: socket errors and non-2xx)
	Dropped   int64   `json:"dropped"`    // fixed rate: slots with no free connection
	SrvCPU    float64 `json:"srv_cpu_s"`  // server CPU seconds in the window (-pid)
	LoadCPU   float64 `json:"load_cpu_s"` // load generator CPU seconds in the window

	// idle mode
	Accepted    int   `json:"accepted"`      // new descriptors seen in the server
	RSSBefore   int64 `json:"rss_before"`    // server VmRSS before connecting, bytes
	RSSIdle     int64 `json:"rss_idle"`      // with every connection open and idle
	RSSMsg      int64 `json:"rss_msg"`       // after one echoed message on each
	IdlePerConn int64 `json:"idle_per_conn"` // (RSSIdle - RSSBefore) / Conns
	MsgPerConn  int64 `json:"msg_per_conn"`  // (RSSMsg - RSSBefore) / Conns
}

// Line formats r as the result line.
func (r *Result) Line() string {
	b, _ := json.Marshal(r)
	return ResultPrefix + string(b)
}

// ParseResult finds the result line in a load run's output.
func ParseResult(out []byte) (*Result, error) {
	for line := range bytes.SplitSeq(out, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte(ResultPrefix)); ok {
			r := new(Result)
			if err := json.Unmarshal(v, r); err != nil {
				return nil, err
			}
			return r, nil
		}
	}
	return nil, fmt.Errorf("no result line")
}
