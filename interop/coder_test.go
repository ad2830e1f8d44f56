package interop

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/eddyloop/eddy/internal/wsconform"
)

// coderEcho echoes messages whole on c, checking UTF-8 itself (coder
// does not: its Autobahn run excludes group 6 and 7.5.1), and closing
// with 1007 on invalid text.
func coderEcho(ctx context.Context, c *websocket.Conn) error {
	c.SetReadLimit(64 << 20)
	for {
		typ, p, err := c.Read(ctx)
		if err != nil {
			return err
		}
		if typ == websocket.MessageText && !utf8.Valid(p) {
			return c.Close(websocket.StatusInvalidFramePayloadData, "")
		}
		if err := c.Write(ctx, typ, p); err != nil {
			return err
		}
	}
}

func coderServer(t *testing.T) string {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			InsecureSkipVerify: true,
			CompressionMode:    websocket.CompressionContextTakeover,
		})
		if err != nil {
			return
		}
		defer c.CloseNow()
		coderEcho(r.Context(), c)
	})
	return serveLoopback(t, h)
}

// coderKnown is what coder/websocket v1.8.15 is known to do outside OK,
// as a server and as a client, with the echo above.
var coderKnown = map[string]wsconform.Grade{
	// UTF-8 checked by the echo on whole messages.
	"6.4.1": wsconform.NonStrict, "6.4.2": wsconform.NonStrict,
	"6.4.3": wsconform.NonStrict, "6.4.4": wsconform.NonStrict,
	// A close reason is not checked for UTF-8, and is echoed in the
	// answer (coder's own Autobahn run excludes 7.5.1).
	"7.5.1": wsconform.Failed,
	"7.1.6": wsconform.Informational, "7.13.1": wsconform.Informational, "7.13.2": wsconform.Informational,
}

// coderClientKnown adds the client's: it takes masked frames from a
// server (read.go checks the mask bit only on the server's side; RFC
// 6455 5.1 says a client must fail the connection): a masked text is
// read still masked (8.1: 1007 from the echo's UTF-8 check), a masked
// ping is answered (8.2), a masked binary echoed (8.3), a masked close
// answered with 1000 (8.4).
var coderClientKnown = func() map[string]wsconform.Grade {
	m := map[string]wsconform.Grade{"8.1": wsconform.Failed, "8.2": wsconform.Failed, "8.3": wsconform.Failed, "8.4": wsconform.Failed}
	for id, g := range coderKnown {
		m[id] = g
	}
	return m
}()

func TestCoderServer(t *testing.T) {
	url := coderServer(t)
	checkReport(t, "coder/websocket server", coderKnown, func(cfg wsconform.Config) (*wsconform.Report, error) {
		cfg.URL = url
		return wsconform.RunClient(context.Background(), cfg)
	})
}

func TestCoderClient(t *testing.T) {
	client := func(ctx context.Context, url string) error {
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{CompressionMode: websocket.CompressionContextTakeover})
		if err != nil {
			return err
		}
		defer c.CloseNow()
		err = coderEcho(ctx, c)
		if websocket.CloseStatus(err) != -1 || errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	checkReport(t, "coder/websocket client", coderClientKnown, func(cfg wsconform.Config) (*wsconform.Report, error) {
		if cfg.Short {
			// 8.2 and 8.3 wait out the timeout (10 s) for a fail that
			// does not come.
			cfg.Timeout = 3 * time.Second
		}
		m, err := wsconform.NewMirror(cfg)
		if err != nil {
			return nil, err
		}
		defer m.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		return m.Run(ctx, client), nil
	})
}
