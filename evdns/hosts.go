package evdns

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strings"

	"github.com/eddyloop/eddy/internal/ascii"
)

// DefaultHostsFile is the path of the system hosts file.
const DefaultHostsFile = "/etc/hosts"

// MaxHostsBytes is the largest hosts file that ParseHosts accepts. Files
// of several megabytes exist (block lists); the limit only bounds what a
// corrupt file can cost.
const MaxHostsBytes = 64 << 20

// ErrHostsTooLarge is returned by ParseHosts and ReadHosts for input
// larger than MaxHostsBytes.
var ErrHostsTooLarge = errors.New("evdns: hosts file larger than MaxHostsBytes")

// Hosts is a parsed hosts(5) file: the addresses of each name, for
// forward lookups, and the names of each address, for reverse lookups.
// A Hosts is immutable once built and safe for concurrent use; a nil
// *Hosts is an empty table.
type Hosts struct {
	// byName maps a normalised name (lower case, no trailing dot) to its
	// addresses in file order, without duplicates.
	byName map[string][]netip.Addr
	// byAddr maps an address (IPv4-mapped IPv6 unmapped) to its names as
	// written (without a trailing dot) in file order, without duplicates
	// (compared case-insensitively).
	byAddr map[netip.Addr][]string
}

// ParseHosts parses the contents of a hosts(5) file. Each line holds an
// address followed by one or more names (a canonical name and aliases);
// text from a '#' to the end of the line is a comment. The address may be
// IPv4 or IPv6, with a zone ("fe80::1%lo"); IPv4-mapped IPv6 addresses are
// stored as IPv4, as Go's net package does. Lines whose address does not
// parse are skipped, and so are names that are not valid domain names.
// A name or an address that appears on several lines collects the
// addresses or names of all of them, in file order, without duplicates.
//
// The only error is ErrHostsTooLarge.
func ParseHosts(data []byte) (*Hosts, error) {
	if len(data) > MaxHostsBytes {
		return nil, ErrHostsTooLarge
	}
	h := &Hosts{
		byName: make(map[string][]netip.Addr),
		byAddr: make(map[netip.Addr][]string),
	}
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(string(line))
		if len(f) < 2 {
			continue
		}
		addr, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		addr = addr.Unmap()
		for _, written := range f[1:] {
			written = strings.TrimSuffix(written, ".")
			key := ascii.ToLower(written) // one trailing dot only: "a.." is invalid
			if !validDomain(key) {
				continue
			}
			h.addName(key, addr)
			h.addAddr(addr, written)
		}
	}
	return h, nil
}

// addName appends addr to the addresses of key unless already there.
func (h *Hosts) addName(key string, addr netip.Addr) {
	addrs := h.byName[key]
	for _, a := range addrs {
		if a == addr {
			return
		}
	}
	h.byName[key] = append(addrs, addr)
}

// addAddr appends name to the names of addr unless already there.
func (h *Hosts) addAddr(addr netip.Addr, name string) {
	names := h.byAddr[addr]
	for _, n := range names {
		if ascii.EqualFold(n, name) {
			return
		}
	}
	h.byAddr[addr] = append(names, name)
}

// ReadHosts reads and parses the hosts file at path. A file that does not
// exist gives an empty table and no error, as the C library behaves.
func ReadHosts(path string) (*Hosts, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &Hosts{}, nil
		}
		return nil, fmt.Errorf("evdns: reading hosts file: %w", err)
	}
	h, err := ParseHosts(data)
	if err != nil {
		return nil, fmt.Errorf("evdns: %s: %w", path, err)
	}
	return h, nil
}

// Lookup returns the addresses of name in file order, or nil. The name is
// compared case-insensitively and may end with a dot. Lookup does not
// allocate; the returned slice is shared by all callers and must not be
// modified.
func (h *Hosts) Lookup(name string) []netip.Addr {
	if h == nil || len(h.byName) == 0 {
		return nil
	}
	name = strings.TrimSuffix(name, ".")
	if len(name) > 253 {
		return nil
	}
	var buf [253]byte
	n := copy(buf[:], name)
	for i := range n {
		buf[i] = ascii.Lower(buf[i])
	}
	// The conversion in a map index does not allocate.
	addrs := h.byName[string(buf[:n])]
	return addrs[:len(addrs):len(addrs)] // an append by the caller copies

}

// Reverse returns the names of addr in file order, as they are written
// in the file without a trailing dot, or nil; the first one is the
// canonical name of the line that first listed addr. An IPv4-mapped IPv6
// address is looked up as IPv4, and a zone must match. The returned slice
// is shared by all callers and must not be modified.
func (h *Hosts) Reverse(addr netip.Addr) []string {
	if h == nil || len(h.byAddr) == 0 {
		return nil
	}
	names := h.byAddr[addr.Unmap()]
	return names[:len(names):len(names)]
}

// Len returns the number of distinct names in the table.
func (h *Hosts) Len() int {
	if h == nil {
		return 0
	}
	return len(h.byName)
}
