package eddy_test

import (
	"fmt"
	"os/exec"

	"github.com/eddyloop/eddy"
)

// A process started with exec.Cmd.Start and watched by a Child: the watcher
// reaps it, so cmd.Wait is never called.
func ExampleChild() {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	cmd := exec.Command("/bin/sh", "-c", "exit 3")
	if err := cmd.Start(); err != nil {
		fmt.Println(err)
		return
	}
	var c eddy.Child
	c.Init(func(c *eddy.Child) {
		fmt.Println("exited:", c.Status().Exited(), "status:", c.Status().ExitStatus())
	}, cmd.Process.Pid)
	err = c.Start(l)
	cmd.Process.Release() // the Child owns the process now; never call cmd.Wait
	if err != nil {
		fmt.Println(err)
		return
	}

	// Run returns once the child was reported: the watcher stopped itself.
	if err := l.Run(); err != nil {
		fmt.Println(err)
	}
	// Output: exited: true status: 3
}

// With os/exec's own Wait, no Child watcher: Wait runs in a goroutine and
// Post hands its result to the loop.
func ExampleChild_cmdWait() {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	cmd := exec.Command("/bin/sh", "-c", "exit 4")
	if err := cmd.Start(); err != nil {
		fmt.Println(err)
		return
	}
	// An Async keeps Run going until the result arrives.
	var pending eddy.Async
	pending.Init(func(*eddy.Async) {})
	pending.Start(l)
	go func() {
		err := cmd.Wait() // blocks this goroutine, never the loop
		l.Post(func() {
			fmt.Println("exit code:", cmd.ProcessState.ExitCode(), "error:", err)
			pending.Stop()
		})
	}()

	if err := l.Run(); err != nil {
		fmt.Println(err)
	}
	// Output: exit code: 4 error: exit status 4
}
