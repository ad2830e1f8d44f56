package main

// eddy get: an HTTP/1.1 client on evclient, like curl -s. It prints the body
// of the final response (redirects followed) to stdout, or to the file of
// -o; -v prints the status line and the header fields of the final
// response to stderr. The exit status is 0 when the final response is 2xx
// or 3xx, 1 when it is 4xx or 5xx (the body is still written), and 2 on an
// error (the reason on stderr): a bad URL or flag, a failed connection, a
// timeout, a malformed or truncated response, a failed write.
//
// https URLs are fetched over TLS, the server's certificate verified
// against the system's roots, or the CA certificates of -cacert FILE
// (PEM), for the URL's host name; -insecure verifies nothing. A
// verification failure is an error (exit 2) with its reason.
//
// Host names are resolved on the loop by evdns (Happy Eyeballs through
// evdns.Dial), with /etc/resolv.conf and /etc/hosts read the way the C
// library reads them, when the URL (or a redirect) first names a host:
// the client does it itself when its Config has no Dial. Literal
// addresses are dialled directly.

import (
	"fmt"
	"io"
	"os"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp/evclient"
)

// runGet is "eddy get".
func runGet(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("get", "[-v] [-o FILE] [-cacert FILE | -insecure] URL", stderr)
	verbose := fs.Bool("v", false, "print the status line and header fields of the response to stderr")
	outPath := fs.String("o", "", "write the body to `FILE` instead of stdout")
	caFile := fs.String("cacert", "", "verify https servers against the CA certificates in `FILE` (PEM) instead of the system's")
	insecure := fs.Bool("insecure", false, "do not verify https servers' certificates")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	if fs.NArg() != 1 {
		return usageError(fs, "want one URL")
	}
	tlsConf, usage, ok := clientTLS(fs, *caFile, *insecure)
	if !ok {
		return usage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "eddy get: %v\n", err)
		return 2
	}

	l, err := eddy.NewLoop(nil)
	if err != nil {
		return fail(err)
	}
	defer l.Close()
	out := stdout
	if *outPath != "" {
		f, err := os.Create(*outPath)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		out = f
	}

	// Without Config.Dial, the client resolves host names itself, with a
	// resolver it makes on the loop when a name first needs one.
	c := evclient.New(l, &evclient.Config{TLS: tlsConf})

	// The body goes to out on the loop's work pool, one piece at a time,
	// while the response is paused: a slow reader of stdout slows the
	// server down instead of blocking the loop or filling memory.
	var (
		status   int
		failure  error
		writing  bool // a piece is being written
		finished bool // OnDone ran
		buf      []byte
	)
	c.Stream(&evclient.Request{URL: fs.Arg(0)}, evclient.Handler{
		OnResponse: func(_ *evclient.Call, resp *evclient.Response) {
			status = resp.Status
			if *verbose {
				fmt.Fprintln(stderr, resp.StatusLine())
				resp.VisitHeaders(func(name, value []byte) bool {
					fmt.Fprintf(stderr, "%s: %s\n", name, value)
					return true
				})
			}
		},
		OnBody: func(call *evclient.Call, p []byte) {
			buf = append(buf[:0], p...)
			call.PauseRead()
			writing = true
			var werr error
			_, err := l.Queue(eddy.LaneSlow, func() { _, werr = out.Write(buf) }, func(err error) {
				writing = false
				if err == nil {
					err = werr
				}
				switch {
				case err != nil:
					if failure == nil {
						failure = fmt.Errorf("writing the body: %w", err)
					}
					call.Cancel()
					c.Close()
				case finished:
					c.Close()
				default:
					call.ResumeRead()
				}
			})
			if err != nil {
				writing = false
				failure = fmt.Errorf("writing the body: %w", err)
				call.Cancel()
				c.Close()
			}
		},
		OnDone: func(_ *evclient.Call, err error) {
			finished = true
			if err != nil && failure == nil {
				failure = err
			}
			if !writing {
				c.Close() // the pooled connection would keep the loop running
			}
		},
	})
	if err := l.Run(); err != nil {
		return fail(err)
	}
	switch {
	case failure != nil:
		return fail(failure)
	case status >= 400:
		return 1
	}
	return 0
}
