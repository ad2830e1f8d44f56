package eddy_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/eddyloop/eddy"
)

// A Stat reports the creation of a file, then its replacement by rename, the
// way configuration files such as resolv.conf are rewritten.
func ExampleStat() {
	dir, err := os.MkdirTemp("", "eddy-stat")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.conf")

	l, err := eddy.NewLoop(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	var s eddy.Stat
	s.Init(func(s *eddy.Stat) {
		now, before := s.Attr(), s.Prev()
		switch {
		case !before.Exists:
			fmt.Println("created, size", now.Size)
			// Replace it atomically: write a new file, rename it over.
			tmp := path + ".tmp"
			os.WriteFile(tmp, []byte("verbose = true\n"), 0o644)
			os.Rename(tmp, path)
		case now.Ino != before.Ino:
			fmt.Println("replaced, size", now.Size)
			s.Stop() // Run returns: nothing else keeps the loop alive
		}
	}, path, 0)
	if err := s.Start(l); err != nil {
		fmt.Println(err)
		return
	}

	if err := os.WriteFile(path, []byte("verbose = false\n"), 0o644); err != nil {
		fmt.Println(err)
		return
	}
	if err := l.Run(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// created, size 16
	// replaced, size 15
}
