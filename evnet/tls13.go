package evnet

// The TLS 1.3 record layer of evnet's own (the TLS issue's second
// design), for server connections once their handshake is done.
//
// The handshake is crypto/tls's, as for every TLS connection
// (tls_handshake.go). It learns the client's and the server's
// application traffic secrets from crypto/tls's CLIENT_TRAFFIC_SECRET_0
// and SERVER_TRAFFIC_SECRET_0 key log lines (tls_keylog.go, which
// chains the program's own KeyLogWriter and GetConfigForClient), and
// keeps a copy of the records crypto/tls writes after the second (its
// Finished, and the session tickets under the new key). When the handshake has succeeded with TLS
// 1.3, the connection derives the keys and IVs (RFC 8446, section 7.3),
// counts the records crypto/tls wrote under the server's application
// key by opening them with it in turn (a record under the handshake key
// fails to open, as AEAD makes certain): that count is the write
// sequence number; the client's records start at 0 after its Finished,
// and the loop fed crypto/tls one record at a time, so that the bytes
// after the Finished are the record layer's to decrypt. The tls.Conn is
// then dropped: what stays is the two AEADs, their IVs, sequence
// numbers and secrets (for KeyUpdate), and a copy of the
// tls.ConnectionState for Conn.TLSState. A connection whose secrets did
// not come (a GetConfigForClient of the program's that returned a
// config with TLS 1.3 disabled, TLS 1.2, a client random another
// handshake had), whose records do not add up,
// or whose AEADs cannot be made (FIPS 140-only mode) keeps the
// tls.Conn, as before (the first design).
//
// Records are decrypted in place in the loop's read buffer, their
// plaintexts moved together and given to OnData at once; only a record
// cut by the end of a read is copied, into a buffer from a pool. What
// crypto/tls would refuse, this layer refuses, with the same alert where
// crypto/tls sends one (TestTLS13Differential, FuzzTLS13Records).

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// TLS 1.3 record and handshake constants (RFC 8446, and crypto/tls's
// limits).
const (
	recordTypeCCS     = 20
	recordTypeAlert   = 21
	recordTypeAppData = 23
	maxPlaintext13    = 16384
	maxCiphertext13   = maxPlaintext13 + 256
	maxUseless13      = 16 // crypto/tls's maxUselessRecords
	msgTypeCert       = 11
	msgTypeKeyUpdate  = 24
	maxHandshake13    = 65536
	maxCertMessage13  = 262144
)

// Alert descriptions (RFC 8446, section 6).
const (
	alertCloseNotify       = 0
	alertUnexpectedMessage = 10
	alertBadRecordMAC      = 20
	alertRecordOverflow    = 22
	alertDecodeError       = 50
	alertProtocolVersion   = 70
	alertInternalError     = 80
	alertUserCanceled      = 90
)

// rec13 is the record layer of a TLS 1.3 server connection after its
// handshake. Loop goroutine only.
type rec13 struct {
	in, out aeadDir
	state   *tls.ConnectionState
	// sha384: the suite's hash is SHA-384 (TLS_AES_256_GCM_SHA384).
	sha384 bool
	suite  uint16
	// useless counts the records in a row that gave no application data
	// (empty ones, user_canceled alerts, change_cipher_spec, post-handshake
	// messages), as crypto/tls does: more than maxUseless13 is an error.
	useless uint8
	// The handshake message being read: its type, the header bytes seen
	// (0 to 4), its length, the body bytes still to come, and the body's
	// first byte (a KeyUpdate's request_update).
	msgType, msgHdr, msgBody uint8
	msgLen, msgLeft          uint32
}

// aeadDir is one direction's AEAD, IV, sequence number and traffic
// secret.
type aeadDir struct {
	aead   cipher.AEAD
	iv     [12]byte
	seq    uint64
	secret [48]byte // the first 32 or 48 bytes, the hash's size
}

// newRec13 returns the record layer for the cipher suite, keyed with the
// client's and the server's application traffic secrets.
func newRec13(suite uint16, client, server []byte) (*rec13, error) {
	r := &rec13{suite: suite, sha384: suite == tls.TLS_AES_256_GCM_SHA384}
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256, tls.TLS_CHACHA20_POLY1305_SHA256, tls.TLS_AES_256_GCM_SHA384:
	default:
		return nil, errors.New("evnet: tls: not a TLS 1.3 cipher suite")
	}
	if len(client) != r.hashLen() || len(server) != r.hashLen() {
		return nil, errors.New("evnet: tls: traffic secret of the wrong length")
	}
	if err := r.in.setSecret(r, client); err != nil {
		return nil, err
	}
	if err := r.out.setSecret(r, server); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rec13) hashLen() int {
	if r.sha384 {
		return 48
	}
	return 32
}

func (r *rec13) keyLen() int {
	if r.suite == tls.TLS_AES_128_GCM_SHA256 {
		return 16
	}
	return 32
}

// expandLabel returns HKDF-Expand-Label (RFC 8446, section 7.1) of
// secret with label and an empty context, n bytes long (n at most the
// hash's size, so that it is HKDF-Expand's first HMAC, T(1), cut to n
// bytes: RFC 5869, section 2.3). The HMAC (RFC 2104) is made of
// crypto/sha256's and crypto/sha512's hash functions on the stack: with
// crypto/hmac it cost ten allocations a secret (TestExpandLabel checks
// it against crypto/hkdf).
func (r *rec13) expandLabel(secret []byte, label string, n int) [48]byte {
	var info [2 + 1 + 6 + 12 + 1 + 1]byte
	b := append(info[:0], byte(n>>8), byte(n), byte(6+len(label)))
	b = append(b, "tls13 "...)
	b = append(b, label...)
	b = append(b, 0, 1) // the empty context, T(1)'s counter
	inner := r.hmacHash(secret, 0x36, b)
	return r.hmacHash(secret, 0x5c, inner[:r.hashLen()])
}

// hmacHash returns the hash of key (at most a block long) padded to a
// block and XORed with pad, followed by msg (at most 48 bytes): HMAC's
// inner hash with the pad 0x36, its outer one with 0x5c.
func (r *rec13) hmacHash(key []byte, pad byte, msg []byte) (sum [48]byte) {
	var buf [128 + 48]byte
	block := 64
	if r.sha384 {
		block = 128
	}
	for i := range block {
		buf[i] = pad
	}
	for i, k := range key {
		buf[i] ^= k
	}
	p := append(buf[:block], msg...)
	if r.sha384 {
		return sha512.Sum384(p)
	}
	s := sha256.Sum256(p)
	copy(sum[:], s[:])
	return sum
}

// setSecret keys d with a traffic secret (RFC 8446, section 7.3) and
// restarts its sequence numbers. It fails where crypto/cipher refuses
// (FIPS 140-only mode, whose GCM takes no nonce from outside): the
// connection then keeps crypto/tls's record layer, or, for a KeyUpdate,
// closes.
func (d *aeadDir) setSecret(r *rec13, secret []byte) error {
	key := r.expandLabel(secret, "key", r.keyLen())
	iv := r.expandLabel(secret, "iv", 12)
	var aead cipher.AEAD
	var err error
	if r.suite == tls.TLS_CHACHA20_POLY1305_SHA256 {
		aead, err = chacha20poly1305.New(key[:r.keyLen()])
	} else {
		var block cipher.Block
		if block, err = aes.NewCipher(key[:r.keyLen()]); err == nil {
			aead, err = cipher.NewGCM(block)
		}
	}
	if err != nil {
		return err
	}
	d.aead = aead
	copy(d.iv[:], iv[:12])
	d.seq = 0
	copy(d.secret[:], secret)
	return nil
}

// update moves d to the next traffic secret (a KeyUpdate: RFC 8446,
// section 7.2).
func (d *aeadDir) update(r *rec13) error {
	next := r.expandLabel(d.secret[:r.hashLen()], "traffic upd", r.hashLen())
	return d.setSecret(r, next[:r.hashLen()])
}

// xorSeq makes d.iv the nonce of the record d.seq, and back: the IV
// XOR the sequence number (RFC 8446, section 5.3). In place, for a nonce
// on the stack would escape to the AEAD's interface method (an
// allocation per record).
func (d *aeadDir) xorSeq() {
	for i := range 8 {
		d.iv[4+i] ^= byte(d.seq >> (56 - 8*i))
	}
}

// open decrypts rec, a whole record (header included), in place, and
// returns its plaintext and inner content type, or an alert (its
// description + 1; 0 for none).
func (d *aeadDir) open(rec []byte) (plain []byte, typ uint8, alert int) {
	d.xorSeq()
	p, err := d.aead.Open(rec[recordHeaderLen:recordHeaderLen], d.iv[:], rec[recordHeaderLen:], rec[:recordHeaderLen])
	d.xorSeq()
	if err != nil {
		return nil, 0, alertBadRecordMAC + 1
	}
	d.seq++
	if len(p) > maxPlaintext13+1 {
		return nil, 0, alertRecordOverflow + 1
	}
	if len(p) == 0 { // crypto/tls takes it for empty application data
		return p, recordTypeAppData, 0
	}
	for i := len(p) - 1; i >= 0; i-- { // content || type || zeros
		if p[i] != 0 {
			return p[:i], p[i], 0
		}
	}
	return nil, 0, alertUnexpectedMessage + 1 // no type
}

// seal appends to dst a record of type typ carrying p (at most
// maxPlaintext13 bytes), encrypted in place.
func (d *aeadDir) seal(dst []byte, typ uint8, p []byte) []byte {
	n := len(p) + 1 + d.aead.Overhead()
	dst = append(dst, recordTypeAppData, 3, 3, byte(n>>8), byte(n))
	at := len(dst)
	dst = append(dst, p...)
	dst = append(dst, typ)
	if cap(dst)-len(dst) < d.aead.Overhead() {
		dst = append(dst, make([]byte, d.aead.Overhead())...)[:len(dst)]
	}
	d.xorSeq()
	sealed := d.aead.Seal(dst[at:at], d.iv[:], dst[at:], dst[at-recordHeaderLen:at])
	d.xorSeq()
	d.seq++
	return dst[:at+len(sealed)]
}

// localAlert is the error of a record the layer refused with the alert
// a, as crypto/tls's errors say it.
func localAlert(a uint8) error {
	return &net.OpError{Op: "local error", Err: tls.AlertError(a)}
}

// recordNeed returns how many more bytes the first record in b needs to
// be whole (its header first), or 0 when it is (or its header says a
// length no record may have).
func recordNeed(b []byte) int {
	if len(b) < recordHeaderLen {
		return recordHeaderLen - len(b)
	}
	n := int(b[3])<<8 | int(b[4])
	if n > maxCiphertext13 {
		return 0
	}
	return max(0, recordHeaderLen+n-len(b))
}

// recordBufs holds the buffers for records cut by the end of a read.
var recordBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, recordHeaderLen+maxCiphertext13)
	return &b
}}

// tls13Input takes p, ciphertext just read into the loop's buffer: the
// record a previous read cut is completed from p first (in the
// connection's pooled buffer), then p is decrypted in place.
func (c *Conn) tls13Input(p []byte) {
	t := c.x.tls
	for len(t.in) > 0 && len(p) > 0 {
		need := recordNeed(t.in)
		if need == 0 { // whole records left
			break
		}
		k := min(need, len(p))
		t.keep(p[:k])
		p = p[k:]
		if recordNeed(t.in) == 0 {
			c.tls13Decrypt()
			if c.closed() {
				return
			}
			if c.flags&(notReading|fRedeliver) != 0 {
				break
			}
		}
	}
	switch {
	case len(p) == 0:
	case len(t.in) > 0: // what is left, then p
		t.keep(p)
		if c.flags&(notReading|fRedeliver) == 0 {
			c.tls13Decrypt()
		} else {
			t.more = true
		}
	default:
		t.in, t.owned = p, false
		c.tls13Decrypt()
	}
}

// keep appends p to t.in, as the connection's own.
func (t *tlsConn) keep(p []byte) {
	if t.owned && len(t.in)+len(p) <= cap(t.in) {
		t.in = append(t.in, p...)
		return
	}
	b := make([]byte, 0, len(t.in)+len(p))
	b = append(append(b, t.in...), p...)
	t.release()
	t.in, t.owned = b, true
}

// own makes t.in the connection's own: a part of the loop's read
// buffer (a record cut by the end of a read) is copied into a pooled
// buffer, and a pooled buffer's tail moved to its front.
func (t *tlsConn) own() {
	if len(t.in) == 0 {
		return
	}
	bp := t.pooled
	if t.owned {
		if bp != nil && len(t.in) <= cap(*bp) {
			t.in = (*bp)[:copy((*bp)[:len(t.in)], t.in)]
		}
		return
	}
	if len(t.in) > recordHeaderLen+maxCiphertext13 {
		t.in, t.owned = append([]byte(nil), t.in...), true
		return
	}
	if bp == nil {
		bp = recordBufs.Get().(*[]byte)
		t.pooled = bp
	}
	t.in, t.owned = append((*bp)[:0], t.in...), true
}

// release gives the pooled buffer back.
func (t *tlsConn) release() {
	if bp := t.pooled; bp != nil {
		t.pooled = nil
		*bp = (*bp)[:0]
		recordBufs.Put(bp)
	}
}

// tls13Decrypt is tlsDecrypt for the record layer of evnet's own: it
// decrypts the whole records in t.in in place, gathers their plaintexts
// at its start and gives them to the handler, until none is left or
// reading stops; alerts, KeyUpdates and errors in order.
func (c *Conn) tls13Decrypt() {
	t := c.x.tls
	r := t.r13
	for c.flags&(notReading|fRedeliver) == 0 {
		in := t.in
		off, w := 0, 0
		var err error
		eof := false
	batch:
		for len(in)-off >= recordHeaderLen && err == nil {
			hdr := in[off : off+recordHeaderLen]
			if hdr[1] != 3 || hdr[2] != 3 {
				err = localAlert(alertProtocolVersion)
				break
			}
			n := int(hdr[3])<<8 | int(hdr[4])
			if n > maxCiphertext13 {
				err = localAlert(alertRecordOverflow)
				break
			}
			if len(in)-off < recordHeaderLen+n {
				break
			}
			rec := in[off : off+recordHeaderLen+n]
			off += len(rec)
			var p []byte
			var typ uint8
			if rec[0] == recordTypeCCS { // not encrypted, ignored (RFC 8446, appendix D.4)
				p, typ = rec[recordHeaderLen:], recordTypeCCS
			} else { // any other type is decrypted first, as crypto/tls does
				var a int
				if p, typ, a = r.in.open(rec); a != 0 {
					err = localAlert(uint8(a - 1))
					break
				}
				if rec[0] != recordTypeAppData {
					err = localAlert(alertUnexpectedMessage)
					break
				}
			}
			if len(p) > maxPlaintext13 {
				err = localAlert(alertRecordOverflow)
				break
			}
			if typ != recordTypeHandshake && r.msgHdr != 0 { // a handshake message cut by another record
				err = localAlert(alertUnexpectedMessage)
				break
			}
			switch typ {
			case recordTypeAppData:
				if len(p) == 0 {
					err = r.uselessRecord()
					continue
				}
				r.useless = 0
				w += copy(in[w:], p)
			case recordTypeAlert:
				switch {
				case len(p) != 2:
					err = localAlert(alertUnexpectedMessage)
				case p[1] == alertCloseNotify:
					eof = true
					break batch
				case p[1] == alertUserCanceled:
					err = r.uselessRecord()
				default:
					err = &net.OpError{Op: "remote error", Err: tls.AlertError(p[1])}
				}
			case recordTypeCCS:
				if len(p) != 1 || p[0] != 1 {
					err = localAlert(alertDecodeError)
				} else {
					err = r.uselessRecord()
				}
			case recordTypeHandshake:
				if len(p) == 0 {
					err = localAlert(alertUnexpectedMessage)
				} else {
					err = c.tls13Handshake(p)
					if c.closed() {
						return
					}
				}
			default:
				err = localAlert(alertUnexpectedMessage)
			}
		}
		if t.in = in[off:]; len(t.in) == 0 || eof || err != nil {
			t.in, t.owned = nil, false
		}
		if w > 0 {
			c.deliver(in[:w]) // the pooled buffer is let go of after it
			if c.closed() {
				return
			}
		}
		if len(t.in) == 0 {
			t.release()
		}
		switch {
		case eof: // close_notify
			t.more = false
			c.eof()
			return
		case err != nil:
			t.more = false
			c.tls13Fail(err)
			return
		case len(t.in) < recordHeaderLen || recordNeed(t.in) > 0: // a record not whole yet
			t.own()
			t.more = false
			return
		}
	}
	// Reading stopped: keep the records not decrypted yet for later.
	t.own()
	t.more = len(t.in) > 0
}

// uselessRecord counts a record that gave no application data.
func (r *rec13) uselessRecord() error {
	r.useless++
	if r.useless > maxUseless13 {
		return localAlert(alertUnexpectedMessage)
	}
	return nil
}

// tls13Handshake takes p, the plaintext of a handshake record: a
// KeyUpdate is the only message a client may send after the handshake.
func (c *Conn) tls13Handshake(p []byte) error {
	r := c.x.tls.r13
	for len(p) > 0 {
		if r.msgHdr < 4 {
			b := p[0]
			p = p[1:]
			if r.msgHdr == 0 {
				r.msgType, r.msgLen = b, 0
			} else {
				r.msgLen = r.msgLen<<8 | uint32(b)
			}
			r.msgHdr++
			if r.msgHdr < 4 {
				continue
			}
			limit := uint32(maxHandshake13)
			if r.msgType == msgTypeCert {
				limit = maxCertMessage13
			}
			if r.msgLen > limit {
				return localAlert(alertInternalError)
			}
			r.msgLeft = r.msgLen
		} else {
			if r.msgLeft == r.msgLen {
				r.msgBody = p[0]
			}
			k := min(uint32(len(p)), r.msgLeft)
			p = p[k:]
			r.msgLeft -= k
		}
		if r.msgHdr == 4 && r.msgLeft == 0 { // the whole message
			r.msgHdr = 0
			if err := c.tls13Message(len(p) > 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// tls13Message handles the handshake message just read; more says
// that handshake bytes follow it in its record.
func (c *Conn) tls13Message(more bool) error {
	t := c.x.tls
	r := t.r13
	if r.msgType != msgTypeKeyUpdate {
		return localAlert(alertUnexpectedMessage)
	}
	if r.msgLen != 1 || r.msgBody > 1 {
		return localAlert(alertDecodeError)
	}
	if err := r.uselessRecord(); err != nil {
		return err
	}
	if r.msgBody == 1 && !t.notified { // update_requested: ours, under the old key, then the new key
		ls := c.sh.ls
		ls.records = r.out.seal(ls.records, recordTypeHandshake, []byte{msgTypeKeyUpdate, 0, 0, 1, 0})
		if err := r.out.update(r); err != nil {
			return localAlert(alertInternalError)
		}
		if c.sendRecords(); c.closed() {
			return nil
		}
	}
	if more { // the new key must start on a record boundary
		return localAlert(alertUnexpectedMessage)
	}
	if err := r.in.update(r); err != nil {
		return localAlert(alertInternalError)
	}
	return nil
}

// tls13Fail closes c for err, after the alert it calls for.
func (c *Conn) tls13Fail(err error) {
	t := c.x.tls
	var op *net.OpError
	var a tls.AlertError
	if errors.As(err, &op) && op.Op == "local error" && errors.As(err, &a) && !t.notified {
		ls := c.sh.ls
		ls.records = t.r13.out.seal(ls.records, recordTypeAlert, []byte{2, byte(a)})
		if c.sendRecords(); c.closed() {
			return
		}
	}
	t.dead = true
	c.setReason(fmt.Errorf("evnet: tls: %w", err))
	c.Close()
}

// encrypt encrypts p into the loop's records buffer, with the record
// layer of evnet's own or crypto/tls's (which lets p escape).
func (t *tlsConn) encrypt(p []byte) error {
	if r := t.r13; r != nil {
		r.sealData(t.c.sh.ls, p)
		return nil
	}
	_, err := t.tc.Write(p)
	return err
}

// sealData encrypts p into the loop's records buffer, in records of at
// most maxPlaintext13 bytes. p does not escape.
func (r *rec13) sealData(ls *loopState, p []byte) {
	for len(p) > 0 {
		m := min(len(p), maxPlaintext13)
		ls.records = r.out.seal(ls.records, recordTypeAppData, p[:m])
		p = p[m:]
	}
}

// closeNotify puts a close_notify alert in the loop's records buffer.
func (t *tlsConn) closeNotify() {
	if r := t.r13; r != nil {
		ls := t.c.sh.ls
		ls.records = r.out.seal(ls.records, recordTypeAlert, []byte{1, alertCloseNotify})
		return
	}
	t.tc.CloseWrite()
}

// ownRecords moves t, whose handshake hs has just succeeded, to the
// record layer of evnet's own, when it is a TLS 1.3 server connection
// whose secrets came and whose records add up; else it keeps crypto/tls's.
func (t *tlsConn) ownRecords(hs *handshake) {
	if hs.clientSecret == nil || hs.serverSecret == nil || t.rec.hdr != 0 {
		return
	}
	st := t.tc.ConnectionState()
	if st.Version != tls.VersionTLS13 {
		return
	}
	r, err := newRec13(st.CipherSuite, hs.clientSecret, hs.serverSecret)
	if err != nil {
		return
	}
	// The records crypto/tls wrote after the server's secret came: its
	// Finished under the handshake key, then those under the
	// application key (session tickets), which open in turn.
	for post := hs.post; len(post) > 0; {
		if recordNeed(post) > 0 {
			return
		}
		n := recordHeaderLen + (int(post[3])<<8 | int(post[4]))
		if n > len(post) {
			return
		}
		rec := post[:n]
		post = post[n:]
		if rec[0] != recordTypeAppData {
			continue
		}
		seq := r.out.seq
		if _, _, a := r.out.open(rec); a != 0 {
			if seq > 0 { // a record under the handshake key after one under the application key
				return
			}
			continue
		}
		// open counted the record: the next one of ours follows it.
	}
	hs.post, hs.clientSecret, hs.serverSecret = nil, nil, nil
	r.state = &st
	t.r13 = r
	t.tc = nil
}
