package evhttp

// The adapter's outbox: the one door between the handlers' goroutines and
// the loop. What a handler does that concerns its connection (a batch of
// response bytes, with the head when it is first decided; a flush; the end
// or a panic; the body asked for or caught up with; a hijack) becomes an
// entry (adEntry), which adReq.push appends to the connection's outbox
// (adConn.out) from whatever goroutine the handler runs on. The first entry
// pushed posts the connection's drain; drain takes every entry pushed by
// then and applies them on the loop, in order, as one batch of the
// connection, so that their output leaves in one write. apply carries out
// one entry on the native exchange, and does nothing once that exchange is
// over (adReq.over). The entries of a response are made by its writer
// (adapter_writer.go).

// adEntry is what the handler's side sends the loop: a batch (the head
// when it is first decided, response bytes, and what to do after them),
// or another operation.
type adEntry struct {
	ar       *adReq
	head     *adHead
	data     *adBuf // nil for none
	op       uint8
	f        func()    // adCall's
	trailers []adField // adEnd's
}

// Entry operations (for a batch: after the data).
const (
	adWrite      uint8 = iota // nothing more: the handler goes on
	adFlush                   // http.Flusher
	adEnd                     // the handler returned
	adPanic                   // the handler panicked: 500 if the head is not out, else cut
	adCut                     // end the response where it is and close
	adAskBody                 // the handler reads the body
	adResumeBody              // the handler caught up with the body
	adRefuse                  // answer 503: the pool is full
	adCall                    // run f
)

// adHead is the response head as the handler left it at WriteHeader.
type adHead struct {
	status int
	fields []adField
	cl     int64 // a length to declare (the whole body is in the batch), or -1
	// bare sends the head at once, without a length: the answer to a HEAD
	// whose handler wrote nothing, as net/http sends it.
	bare bool
}

type adField struct{ name, value string }

// push sends e to the loop, after the entries sent before it. The first
// entry of a batch posts the connection's drain; later ones join it.
func (ar *adReq) push(e adEntry) {
	ac := ar.ac
	ac.mu.Lock()
	ac.out = append(ac.out, e)
	post := !ac.posted
	ac.posted = true
	ac.mu.Unlock()
	if post {
		ar.loop.Post(ac.drainFn)
	}
}

// drain applies the entries the handlers sent, on the loop, as one batch
// of the connection: their output leaves in one write, and the connection
// then resumes (parses what it held back, sends what is due).
func (ac *adConn) drain() {
	ac.mu.Lock()
	in := ac.out
	ac.out = ac.in
	ac.posted = false
	ac.mu.Unlock()
	hc := ac.hc
	ls := hc.ls
	prev := ls.enter(hc)
	for i := range in {
		in[i].apply()
		in[i] = adEntry{}
	}
	ac.in = in[:0]
	hc.resume()
	ls.leave(hc, prev)
}

// apply carries out e on the loop.
func (e *adEntry) apply() {
	if e.op == adCall {
		e.f()
		return
	}
	ar := e.ar
	a := ar.a
	if ar.over || ar.hijacked {
		a.putBuf(e.data)
		return
	}
	w := ar.w
	switch e.op {
	case adAskBody:
		ar.askBody()
		return
	case adResumeBody:
		ar.r.ResumeBody()
		return
	case adRefuse:
		writeBusy(w)
		w.End()
		return
	}
	if e.op == adEnd {
		// Before the head: a long rest of the body to drop makes it
		// say Connection: close, when the length tells.
		ar.finishBody()
	}
	if h := e.head; h != nil {
		ar.setFields(h.fields)
		w.WriteHeader(h.status)
		if h.cl >= 0 {
			w.SetContentLength(h.cl)
		}
		if h.bare {
			w.Flush()
		}
	}
	if e.data != nil && len(e.data.b) > 0 {
		w.Write(e.data.b) // an error ends the exchange, and OnDone tells
	}
	if ar.over {
		a.putBuf(e.data)
		return
	}
	switch e.op {
	case adWrite, adFlush:
		if e.op == adFlush {
			w.Flush()
		}
		if e.data == nil {
			return
		}
		e.data.b = e.data.b[:0]
		if !ar.over && w.Full() {
			ar.held = e.data // given back by onDrain: the handler waits
		} else {
			ar.ack <- e.data
		}
		return
	case adEnd:
		for _, f := range e.trailers {
			w.Trailer().Add(f.name, f.value)
		}
		w.End()
	case adPanic, adCut:
		ar.finishBody()
		x := w.x
		x.hc.failHandler(x, e.op == adCut)
	}
	a.putBuf(e.data)
}

// setFields makes fields the native response's header fields.
func (ar *adReq) setFields(fields []adField) {
	h := ar.w.Header()
	h.Reset()
	for _, f := range fields {
		h.Add(f.name, f.value)
	}
}

// interim sends a 1xx response with fields.
func (ar *adReq) interim(status int, fields []adField) {
	if ar.over || ar.hijacked {
		return
	}
	ar.setFields(fields)
	ar.w.WriteHeader(status)
}
