package evhttp

// Request paths for FileServer: a target's path decoded and checked
// before it is looked up under the root.

// cleanPath decodes the path of a request target and checks that it
// names something under the root: it returns the path with its percent
// escapes decoded and its empty and "." segments removed, a final slash
// kept, and false for anything that is not a plain absolute path: an
// empty or relative path, a bad escape, an encoded separator (%2F, %5C),
// a backslash, a NUL, a ".." segment (encoded or not). A path that needs
// no change is raw itself; another is made in the scratch buffer dst,
// which is returned, grown, for reuse.
func cleanPath(dst, raw []byte) (scratch, clean []byte, ok bool) {
	if len(raw) == 0 || raw[0] != '/' {
		return dst, nil, false
	}
	if plainPath(raw) {
		return dst, raw, true
	}
	// Decode first, into dst; then remove the segments in place.
	start := len(dst)
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case '%':
			if i+2 >= len(raw) {
				return dst[:start], nil, false
			}
			hi, ok1 := unhex(raw[i+1])
			lo, ok2 := unhex(raw[i+2])
			if !ok1 || !ok2 {
				return dst[:start], nil, false
			}
			c = hi<<4 | lo
			if c == '/' || c == '\\' || c == 0 {
				return dst[:start], nil, false
			}
			i += 2
		case '\\', 0:
			return dst[:start], nil, false
		}
		dst = append(dst, c)
	}
	p := dst[start:]
	trailing := p[len(p)-1] == '/'
	out := start // the cleaned path is written over the decoded one
	for i := 0; i < len(p); {
		for i < len(p) && p[i] == '/' {
			i++
		}
		j := i
		for j < len(p) && p[j] != '/' {
			j++
		}
		seg := p[i:j]
		switch {
		case len(seg) == 0 || len(seg) == 1 && seg[0] == '.':
		case len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			return dst[:start], nil, false
		default:
			dst[out] = '/'
			out++
			out += copy(dst[out:], seg)
		}
		i = j
	}
	if out == start || trailing {
		dst[out] = '/'
		out++
	}
	return dst[:out], dst[start:out], true
}

// plainPath reports whether raw (which starts with '/') is already clean:
// no escape, backslash, NUL, empty segment or dot segment.
func plainPath(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '%', '\\', 0:
			return false
		case '/':
			if i+1 < len(raw) && raw[i+1] == '/' {
				return false
			}
			if i+1 < len(raw) && raw[i+1] == '.' {
				// "/." or "/.." as a whole segment
				k := i + 2
				if k < len(raw) && raw[k] == '.' {
					k++
				}
				if k == len(raw) || raw[k] == '/' {
					return false
				}
			}
		}
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
