//go:build linux && !evpoll

package eddy_test

import (
	"fmt"
	"time"

	"github.com/eddyloop/eddy"
)

// An Embed runs one loop inside another: the inner loop's timer fires, and
// its posted function runs, while only the outer loop runs. The inner loop
// needs a backend with a descriptor (epoll here); the outer may use any.
func ExampleEmbed() {
	outer, _ := eddy.NewLoop(nil)
	defer outer.Close()
	inner, _ := eddy.NewLoop(nil)
	defer inner.Close()

	var e eddy.Embed
	e.Init(nil, inner) // nil callback: sweep the inner loop whenever it has work
	if err := e.Start(outer); err != nil {
		fmt.Println(err)
		return
	}

	var t eddy.Timer
	t.Init(func(*eddy.Timer) {
		fmt.Println("inner timer, run by the outer loop")
		go inner.Post(func() {
			fmt.Println("inner post from another goroutine")
			e.Stop() // nothing keeps the outer loop running now
		})
	}, 2*time.Millisecond, 0)
	t.Start(inner)

	outer.Run()
	// Output:
	// inner timer, run by the outer loop
	// inner post from another goroutine
}
