package evhttp

// The end of a server connection: after the response that must close it
// (Connection: close, an error, Shutdown) or the client's EOF, maybeClose
// closes it once it has nothing left to answer, shutting its sending side
// first and lingering until the client closes (shutdown), so that unread
// input does not make the kernel reset the last response; drain is Shutdown
// for one connection.

// maybeClose closes the connection when it has nothing left to answer and
// is to close: Connection: close, an error, Shutdown, or the client's EOF.
func (hc *conn) maybeClose() {
	if hc.flags&(cClosed|cLinger) != 0 || hc.q != nil {
		return
	}
	if hc.reader != nil && hc.flags&cCloseAfter == 0 {
		return
	}
	switch {
	case hc.flags&cCloseAfter != 0 || hc.ls.draining:
		hc.shutdown()
	case hc.flags&cEOF != 0 && (hc.flags&cPartial != 0 || len(hc.c.Peek()) == 0):
		hc.close()
	}
}

// close closes the connection once its output, the coalesced output of a
// running batch included, is sent.
func (hc *conn) close() {
	if hc.ls.batch == hc {
		hc.flushOut()
	}
	hc.c.Close()
}

// shutdown closes the connection after its queued output: the write side
// first, then, after the client's EOF or lingerTimeout, the whole socket.
func (hc *conn) shutdown() {
	if x := hc.reader; x != nil {
		hc.reader = nil
		if x.flags&xEnded != 0 && x.r.bodyFn == nil {
			// Its response is out, and the rest of its body unwanted.
			x.flags |= xBodyDone
			hc.retire(x)
		} else {
			hc.abort(x, ErrConnClosing)
		}
	}
	if hc.flags&cEOF != 0 {
		hc.close()
		return
	}
	if hc.ls.batch == hc {
		hc.flushOut()
	}
	hc.flags |= cLinger
	hc.c.CloseWrite()
	hc.c.ResumeRead()
	hc.arm(phaseLinger, lingerTimeout)
}

// drain is Shutdown for one connection: close it now if it is idle, else
// after the responses in progress.
func (hc *conn) drain() {
	if hc.flags&(cClosed|cLinger) != 0 {
		return
	}
	if hc.q == nil && hc.reader == nil {
		hc.c.Close()
		return
	}
	hc.flags |= cCloseAfter
	hc.maybeClose()
}
