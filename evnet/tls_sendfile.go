package evnet

// SendFile on a TLS connection: sendfile(2) cannot encrypt, so a pump
// reads the region with pread, encrypts it and writes it, a piece at a
// time as the output queue empties. Records go to the peer in the order
// crypto/tls makes them, so that nothing may be encrypted after a region
// before the region is: what is written meanwhile waits in the pump as
// plaintext (and close_notify as an item of its own), and reading pauses
// (fHold), crypto/tls's answers to what it reads (a KeyUpdate's) being
// records too.

import (
	"fmt"

	"github.com/eddyloop/eddy"
)

// tlsPump holds what waits to be encrypted behind a file region, in
// order. Loop goroutine only.
type tlsPump struct {
	items []tlsItem
	n     int64 // bytes of file and plaintext not encrypted yet
}

// tlsItem is a file region, plaintext written after one, or close_notify.
type tlsItem struct {
	r      *fileRegion
	p      []byte
	notify bool
}

// tlsSendFile is SendFile on a TLS connection.
func (c *Conn) tlsSendFile(r *fileRegion) error {
	if c.flags&fHandshake != 0 {
		return ErrHandshakeNotDone
	}
	if r.n == 0 {
		r.release(nil)
		return nil
	}
	reg := new(fileRegion)
	*reg = *r
	x := c.extra()
	if x.pump == nil {
		x.pump = &tlsPump{}
		c.flags |= fHold
		c.interest()
	}
	x.pump.items = append(x.pump.items, tlsItem{r: reg})
	x.pump.n += reg.n
	if c.Full() {
		c.flags |= fOverHigh
	}
	if c.q == nil {
		c.tlsPumpRun()
		if c.closed() {
			return c.reason()
		}
	}
	return nil
}

// pumpWrite keeps p, written while the pump has a region, for its turn.
func (c *Conn) pumpWrite(p []byte) (int, error) {
	pump := c.x.pump
	if int64(c.Buffered())+int64(len(p)) > int64(c.sh.o.MaxBuffered) {
		c.fail(ErrOverflow)
		return 0, ErrOverflow
	}
	if k := len(pump.items); k > 0 && pump.items[k-1].r == nil && !pump.items[k-1].notify {
		pump.items[k-1].p = append(pump.items[k-1].p, p...)
	} else {
		pump.items = append(pump.items, tlsItem{p: append([]byte(nil), p...)})
	}
	pump.n += int64(len(p))
	if c.Full() {
		c.flags |= fOverHigh
	}
	return len(p), nil
}

// tlsPumpRun encrypts and sends the pump's items while the kernel takes
// all that is written; it reports whether the pump is done and the
// queue empty.
func (c *Conn) tlsPumpRun() bool {
	pump := c.x.pump
	t := c.x.tls
	for len(pump.items) > 0 {
		if c.q != nil || c.closed() {
			return false
		}
		it := &pump.items[0]
		switch {
		case it.r != nil:
			k, err := c.pumpRegion(it.r)
			pump.n -= int64(k)
			if err != nil {
				c.fail(err)
				return false
			}
			if it.r.n > 0 {
				continue
			}
			r := it.r
			pump.items[0] = tlsItem{}
			pump.items = pump.items[1:]
			r.release(nil) // may call the program, which may write or close
		case it.notify:
			pump.items = pump.items[1:]
			t.closeNotify()
			c.sendRecords()
		default:
			p := it.p
			pump.items[0] = tlsItem{}
			pump.items = pump.items[1:]
			pump.n -= int64(len(p))
			c.pumpEncrypt(p)
		}
	}
	if c.closed() {
		return false
	}
	c.x.pump = nil
	c.flags &^= fHold
	c.interest()
	if t.more {
		c.sh.ls.loop.Feed(&c.w, eddy.Read)
	}
	if c.flags&fOverHigh != 0 && c.Buffered() <= c.sh.o.LowWater {
		c.drain()
	}
	return c.q == nil && !c.closed()
}

// pumpEncrypt encrypts p and sends the records, as tlsWrite does.
func (c *Conn) pumpEncrypt(p []byte) {
	for len(p) > 0 && !c.closed() {
		m := min(len(p), tlsWriteChunk)
		if err := c.x.tls.encrypt(p[:m]); err != nil {
			c.x.tls.dead = true
			c.fail(fmt.Errorf("%w: %w", errTLS, err))
			return
		}
		c.sendRecords()
		p = p[m:]
	}
}

// pumpRegion reads up to fallbackChunk bytes of r with pread, encrypts
// and sends them, and advances r. It returns the bytes of the file done;
// an error is a close reason.
func (c *Conn) pumpRegion(r *fileRegion) (int, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := (*bp)[:min(r.n, fallbackChunk)]
	k, err := r.read(buf)
	if err != nil {
		return 0, err
	}
	if k == 0 {
		return 0, fmt.Errorf("%w (at offset %d, %d bytes left)", ErrShortFile, r.off, r.n)
	}
	if err := c.x.tls.encrypt(buf[:k]); err != nil {
		c.x.tls.dead = true
		return 0, fmt.Errorf("%w: %w", errTLS, err)
	}
	r.off += int64(k)
	r.n -= int64(k)
	if c.sendRecords(); c.closed() {
		return k, nil
	}
	if c.tm != nil {
		c.tm.lastWrite = c.sh.ls.stamp()
	}
	return k, nil
}

// pumpRelease gives back the files of the pump's regions when c closes.
func (c *Conn) pumpRelease() {
	pump := c.x.pump
	c.x.pump = nil
	why := c.reason()
	if why == nil {
		why = ErrClosed
	}
	for _, it := range pump.items {
		if it.r != nil {
			it.r.release(why)
		}
	}
}
