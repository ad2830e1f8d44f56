package testutil

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// NginxTemps returns the lines of an nginx http block that put its
// temporary files under dir/tmp (which must exist): nginx-light would
// otherwise want /var/lib/nginx, which a test may not write.
func NginxTemps(dir string) string {
	var b strings.Builder
	for _, name := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "\t%s_temp_path %s/tmp;\n", name, dir)
	}
	return b.String()
}

// StartNginx starts nginx (Debian's nginx-light; NeedPeer decides what a
// missing one means) with its prefix in dir and the configuration that
// conf returns for a free port on 127.0.0.1, in the foreground and
// without a master process, and returns its address ("127.0.0.1:port")
// once it accepts connections. nginx is killed when the test ends. A port
// taken by another process before nginx binds it is tried again with
// another, up to five times.
func StartNginx(t testing.TB, dir string, conf func(port int) []byte) string {
	t.Helper()
	path := NeedPeer(t, "nginx", "nginx-light")
	var out bytes.Buffer
	for range 5 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		file := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(file, conf(port), 0o644); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		cmd := exec.Command(path, "-p", dir, "-c", file, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		addr := "127.0.0.1:" + strconv.Itoa(port)
		up := Eventually(5*time.Second, func() bool {
			select {
			case err := <-exited:
				exited <- err
				return true
			default:
			}
			c, err := net.Dial("tcp4", addr)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		select {
		case <-exited: // did not start (the port was taken meanwhile?)
			continue
		default:
		}
		if !up {
			cmd.Process.Kill()
			<-exited
			continue
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
		})
		return addr
	}
	log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	t.Fatalf("nginx did not start:\n%s\n%s", out.String(), log)
	return ""
}
