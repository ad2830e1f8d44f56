package main

// eddy serve -dir: the files under a directory, served by
// evhttp.FileServer: opened on the loop's work pool (file system calls
// block, the loop must not), cached per loop for a second, sent with
// sendfile(2); index.html, Content-Type by extension, Last-Modified and
// ETag, conditional and Range requests. Nothing outside the directory can
// be reached: encoded separators, backslashes, NULs and ".." segments are
// refused (400), and symbolic links that lead out of it are answered 404.

import (
	"fmt"
	"os"

	"github.com/eddyloop/eddy/evhttp"
)

// newFileServer checks that dir is a directory and returns the handler
// that serves it.
func newFileServer(dir string) (evhttp.Handler, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	return evhttp.FileServer(dir, nil), nil // which resolves dir itself
}
