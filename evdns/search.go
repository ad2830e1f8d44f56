package evdns

import "strings"

// MaxNameLen is the longest fully qualified name, trailing dot included,
// that Candidates returns: 253 bytes of presentation form plus the root
// dot, the most that fits the 255-byte wire form.
const MaxNameLen = 254

// Candidates returns the fully qualified names (each ending with a dot)
// to query for name, in the order the C library (glibc's res_search)
// tries them with c's search list and ndots:
//
//   - a name ending with a dot is absolute and is tried alone;
//   - a name with at least c.Ndots dots is tried as is first, then with
//     each search domain appended;
//   - any other name is tried with each search domain appended first, and
//     as is last (unless c.NoTLDQuery is set and the name has no dot).
//
// Candidates that are not valid domain names (empty labels, labels over
// 63 bytes, over MaxNameLen bytes) are left out, so an invalid name gives
// nil. The case of name is kept; search domains are lower case. Names such
// as "localhost" get no special treatment: they are the hosts file's
// business. A nil c means DefaultConfig.
func Candidates(name string, c *Config) []string {
	if c == nil {
		c = DefaultConfig()
	}
	if name == "" {
		return nil
	}
	if name == "." {
		return []string{"."}
	}
	if strings.HasSuffix(name, ".") {
		if !validDomain(name[:len(name)-1]) {
			return nil
		}
		return []string{name}
	}
	if !validDomain(name) {
		return nil
	}
	dots := strings.Count(name, ".")
	asIs := dots >= c.Ndots
	out := make([]string, 0, len(c.Search)+1)
	if asIs {
		out = append(out, name+".")
	}
	for _, s := range c.Search {
		if fq := name + "." + s; validDomain(fq) {
			out = append(out, fq+".")
		}
	}
	if !asIs && !(dots == 0 && c.NoTLDQuery) {
		out = append(out, name+".")
	}
	return out
}
