package eddy_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"

	"github.com/eddyloop/eddy"
)

// Work that would block the loop (here a hash of a large buffer) runs on a
// pool worker; its result is handed to the loop, where done prints it. Run
// returns once done has run: queued work keeps the loop alive.
func ExampleLoop_Queue() {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	data := make([]byte, 1<<20)
	var sum [sha256.Size]byte // written by the worker, read by done
	_, err = l.Queue(eddy.LaneFast, func() {
		sum = sha256.Sum256(data)
	}, func(err error) {
		if err != nil {
			fmt.Println("failed:", err)
			return
		}
		fmt.Printf("sha256 of 1 MiB of zeros: %x...\n", sum[:8])
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	l.Run()
	// Output:
	// sha256 of 1 MiB of zeros: 30e14955ebf13522...
}

// The file helpers read, write and stat files on the pool's fast lane and
// call back on the loop.
func ExampleLoop_ReadFile() {
	dir, err := os.MkdirTemp("", "eddy-file")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "greeting")

	l, err := eddy.NewLoop(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	l.WriteFile(path, []byte("hello from the pool\n"), 0o644, func(err error) {
		if err != nil {
			fmt.Println(err)
			return
		}
		l.ReadFile(path, func(data []byte, err error) {
			fmt.Printf("read %q, %v\n", data, err)
		})
		l.StatFile(path+".missing", func(attr eddy.StatAttr, err error) {
			fmt.Println("missing file exists:", attr.Exists)
		})
	})
	l.Run()
	// Output:
	// read "hello from the pool\n", <nil>
	// missing file exists: false
}
