package eddy_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/eddyloop/eddy"
)

// WriteFile, then ReadFile and StatFile of what it wrote, each from the
// callback of the one before, on the test's own pool.
func TestFileWriteReadStat(t *testing.T) {
	l, _ := newWorkLoop(t, eddy.PoolConfig{})
	path := filepath.Join(t.TempDir(), "data")
	want := bytes.Repeat([]byte("eddy "), 10000)
	var got []byte
	var attr eddy.StatAttr
	steps := 0
	l.WriteFile(path, want, 0o640, func(err error) {
		steps++
		if err != nil {
			t.Fatalf("WriteFile: %v", err)
		}
		l.ReadFile(path, func(data []byte, err error) {
			steps++
			if err != nil {
				t.Errorf("ReadFile: %v", err)
			}
			got = data
		})
		l.StatFile(path, func(a eddy.StatAttr, err error) {
			steps++
			if err != nil {
				t.Errorf("StatFile: %v", err)
			}
			attr = a
		})
	})
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if steps != 3 {
		t.Fatalf("%d callbacks ran, want 3", steps)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("ReadFile returned %d bytes, want the %d written", len(got), len(want))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !attr.Exists || attr.Size != int64(len(want)) || attr.IsDir() ||
		attr.Mode&0o777 != uint32(fi.Mode().Perm()) || !attr.ModTime.Equal(fi.ModTime()) {
		t.Errorf("StatFile = %+v; os.Stat says size %d, mode %v, mtime %v", attr, fi.Size(), fi.Mode(), fi.ModTime())
	}
}

// A missing file is an *fs.PathError that is fs.ErrNotExist for ReadFile and
// StatFile; WriteFile into a missing directory fails the same way. The
// callbacks run from the loop, never inside the call.
func TestFileErrors(t *testing.T) {
	l, _ := newWorkLoop(t, eddy.PoolConfig{})
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	n := 0
	check := func(what string, err error) {
		t.Helper()
		n++
		var pe *fs.PathError
		if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) {
			t.Errorf("%s: err = %v, want an *fs.PathError for a missing file", what, err)
		}
	}
	l.ReadFile(missing, func(data []byte, err error) {
		if data != nil {
			t.Errorf("ReadFile of a missing file returned %q", data)
		}
		check("ReadFile", err)
	})
	l.StatFile(missing, func(a eddy.StatAttr, err error) {
		if a.Exists {
			t.Errorf("StatFile of a missing file: %+v", a)
		}
		check("StatFile", err)
	})
	l.WriteFile(filepath.Join(missing, "f"), []byte("x"), 0o600, func(err error) { check("WriteFile", err) })
	if n != 0 {
		t.Fatal("a callback ran inside the call")
	}
	l.StatFile(dir, func(a eddy.StatAttr, err error) {
		n++
		if err != nil || !a.IsDir() {
			t.Errorf("StatFile of a directory: %+v, %v", a, err)
		}
	})
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("%d callbacks ran, want 4", n)
	}
}

// Errors from the pool reach the callbacks from the loop: a closed pool.
func TestFilePoolClosed(t *testing.T) {
	l, p := newWorkLoop(t, eddy.PoolConfig{})
	p.Close()
	path := filepath.Join(t.TempDir(), "x")
	var errs []error
	l.ReadFile(path, func(data []byte, err error) { errs = append(errs, err) })
	l.WriteFile(path, []byte("x"), 0o600, func(err error) { errs = append(errs, err) })
	l.StatFile(path, func(a eddy.StatAttr, err error) { errs = append(errs, err) })
	if len(errs) != 0 {
		t.Fatal("a callback ran inside the call")
	}
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if len(errs) != 3 {
		t.Fatalf("%d callbacks ran, want 3", len(errs))
	}
	for i, err := range errs {
		if !errors.Is(err, eddy.ErrPoolClosed) {
			t.Errorf("callback %d: %v, want ErrPoolClosed", i, err)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteFile on a closed pool wrote the file: %v", err)
	}
}
