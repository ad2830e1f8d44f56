package interop

import (
	"context"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/eddyloop/eddy/internal/wsconform"
	"github.com/gorilla/websocket"
)

// gorillaEchoClient connects to url and echoes every message until the
// connection ends, checking UTF-8 itself as gorilla's Autobahn client
// example does.
func gorillaEchoClient(ctx context.Context, url string) error {
	d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: 5 * time.Second}
	c, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	c.EnableWriteCompression(true)
	for {
		mt, p, err := c.ReadMessage()
		if err != nil {
			return err
		}
		if mt == websocket.TextMessage && !utf8.Valid(p) {
			c.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseInvalidFramePayloadData, ""), time.Now().Add(time.Second))
			return nil
		}
		if err := c.WriteMessage(mt, p); err != nil {
			return err
		}
	}
}

func TestGorillaClient(t *testing.T) {
	checkReport(t, "gorilla/websocket client", gorillaKnown, func(cfg wsconform.Config) (*wsconform.Report, error) {
		m, err := wsconform.NewMirror(cfg)
		if err != nil {
			return nil, err
		}
		defer m.Close()
		return m.Run(context.Background(), gorillaEchoClient), nil
	})
}
