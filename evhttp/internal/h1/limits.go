package h1

// The limits a Parser or Body enforces, and their defaults.

// Default limits, close to what nginx and net/http use.
const (
	// DefaultMaxRequestLine is the default for Limits.MaxRequestLine: 8 KiB,
	// nginx's large_client_header_buffers size.
	DefaultMaxRequestLine = 8 << 10
	// DefaultMaxHeaderBytes is the default for Limits.MaxHeaderBytes: 64 KiB.
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultMaxHeaders is the default for Limits.MaxHeaders: 100 field lines.
	DefaultMaxHeaders = 100
	// DefaultMaxChunkLine is the default for Limits.MaxChunkLine: 4 KiB, as
	// net/http's chunked reader.
	DefaultMaxChunkLine = 4 << 10
)

// Limits bounds what a Parser or Body accepts. The zero value means the
// defaults; a field that is zero or negative takes its default.
type Limits struct {
	// MaxRequestLine is the most bytes the start line may take (a request
	// line, or a response's status line), counted from the start of the
	// input through the LF that ends the line, so empty lines before a
	// request line count too. Exceeding it is ErrRequestLineTooLong (414).
	MaxRequestLine int
	// MaxHeaderBytes is the most bytes a whole head may take, start line
	// and the empty line that ends it included; it also bounds a chunked
	// body's trailer section. Exceeding it is ErrHeaderTooLarge (431).
	MaxHeaderBytes int
	// MaxHeaders is the most field lines a head or trailer section may
	// have. Exceeding it is ErrTooManyHeaders (431).
	MaxHeaders int
	// MaxBodyBytes is the most payload bytes a body may carry; zero or
	// negative means no limit at this layer. A request that declares more
	// with Content-Length fails in ParseRequest; a chunked or
	// read-until-close body fails in Body.Decode when it gets there.
	// Exceeding it is ErrBodyTooLarge (413).
	MaxBodyBytes int64
	// MaxChunkLine is the most bytes a chunk header line (size, extensions
	// and CRLF) may take. Exceeding it is ErrChunkLineTooLong (400).
	MaxChunkLine int
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// The methods below take nil for the zero Limits.

func (l *Limits) maxRequestLine() int {
	if l == nil {
		return DefaultMaxRequestLine
	}
	return orDefault(l.MaxRequestLine, DefaultMaxRequestLine)
}

func (l *Limits) maxHeaderBytes() int {
	if l == nil {
		return DefaultMaxHeaderBytes
	}
	return orDefault(l.MaxHeaderBytes, DefaultMaxHeaderBytes)
}

func (l *Limits) maxHeaders() int {
	if l == nil {
		return DefaultMaxHeaders
	}
	return orDefault(l.MaxHeaders, DefaultMaxHeaders)
}

func (l *Limits) maxChunkLine() int {
	if l == nil {
		return DefaultMaxChunkLine
	}
	return orDefault(l.MaxChunkLine, DefaultMaxChunkLine)
}

// maxBody returns MaxBodyBytes, or 0 (no limit) for nil.
func (l *Limits) maxBody() int64 {
	if l == nil {
		return 0
	}
	return l.MaxBodyBytes
}
