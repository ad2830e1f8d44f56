package evclient_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/eddyloop/eddy/evnet"

	"github.com/eddyloop/eddy/evhttp/evclient"
)

func TestClientRedirects(t *testing.T) {
	leakCheck(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/r/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			http.Redirect(w, r, "/echo", http.StatusFound)
			return
		}
		http.Redirect(w, r, "/r/"+strconv.Itoa(n-1), http.StatusMovedPermanently)
	})
	mux.HandleFunc("/code/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, "/echo?from="+r.PathValue("code"), code)
	})
	mux.HandleFunc("/nolocation", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(302)
		io.WriteString(w, "no location")
	})
	mux.HandleFunc("/tohttps", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+r.Host+"/", 302) // a plain server: the handshake fails
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s body=%q auth=%q referer=%t", r.Method, r.URL.RequestURI(), body, r.Header.Get("Authorization"), r.Referer() != "")
	})
	srv := newCountingServer(t, mux)
	rl := startLoop(t)
	c := newClient(t, rl, nil)

	resp := mustGet(t, rl, c, srv.URL+"/r/3")
	if string(resp.Body) != `GET /echo body="" auth="" referer=true` || resp.Redirects != 4 || resp.URL != srv.URL+"/echo" {
		t.Errorf("/r/3: %q, %d redirects, URL %s", resp.Body, resp.Redirects, resp.URL)
	}
	for _, tt := range []struct {
		code int
		want string
	}{
		{301, `GET /echo?from=301 body=""`},
		{302, `GET /echo?from=302 body=""`},
		{303, `GET /echo?from=303 body=""`},
		{307, `POST /echo?from=307 body="payload"`},
		{308, `POST /echo?from=308 body="payload"`},
	} {
		resp, err := doReq(t, rl, c, &evclient.Request{Method: "POST", URL: srv.URL + "/code/" + strconv.Itoa(tt.code),
			Body: []byte("payload"), Header: http.Header{"Authorization": {"Bearer x"}}})
		if err != nil {
			t.Fatalf("%d: %v", tt.code, err)
		}
		// Same host: Authorization is kept.
		if want := tt.want + ` auth="Bearer x" referer=true`; string(resp.Body) != want {
			t.Errorf("%d: %q, want %q", tt.code, resp.Body, want)
		}
	}
	resp = mustGet(t, rl, c, srv.URL+"/nolocation")
	if resp.Status != 302 || string(resp.Body) != "no location" {
		t.Errorf("302 without Location: %d %q", resp.Status, resp.Body)
	}
	// A streamed body cannot be replayed: the 307 is the answer.
	ch := make(chan int, 1)
	rl.Post(func() {
		var status int
		call := c.Stream(&evclient.Request{Method: "POST", URL: srv.URL + "/code/307", StreamBody: true}, evclient.Handler{
			OnResponse: func(_ *evclient.Call, r *evclient.Response) { status = r.Status },
			OnDone:     func(*evclient.Call, error) { ch <- status },
		})
		call.Write([]byte("streamed"))
		call.CloseBody()
	})
	if got := <-ch; got != 307 {
		t.Errorf("streamed POST to a 307: status %d", got)
	}
	if _, err := doReq(t, rl, c, &evclient.Request{URL: srv.URL + "/tohttps"}); !errors.Is(err, evclient.ErrConnect) || !errors.Is(err, evnet.ErrHandshake) {
		t.Errorf("redirect to https: %v", err)
	}

	// The limit.
	c2 := newClient(t, rl, &evclient.Config{MaxRedirects: 2})
	if _, err := doReq(t, rl, c2, &evclient.Request{URL: srv.URL + "/r/5"}); !errors.Is(err, evclient.ErrTooManyRedirects) {
		t.Errorf("limit 2: %v", err)
	} else if !strings.Contains(err.Error(), "/r/3: too many redirects: stopped after 2") {
		t.Errorf("error text: %v", err)
	}
	if resp := mustGet(t, rl, c2, srv.URL+"/r/1"); resp.Redirects != 2 {
		t.Errorf("2 redirects under limit 2: %d", resp.Redirects)
	}
	// Not followed at all.
	c3 := newClient(t, rl, &evclient.Config{MaxRedirects: -1})
	if resp := mustGet(t, rl, c3, srv.URL+"/r/1"); resp.Status != 301 || resp.Header("Location") != "/r/0" {
		t.Errorf("MaxRedirects -1: %d %q", resp.Status, resp.Header("Location"))
	}
}

func TestClientRedirectOtherHost(t *testing.T) {
	leakCheck(t)
	other := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "auth=%q cookie=%q x=%q host=%s", r.Header.Get("Authorization"), r.Header.Get("Cookie"), r.Header.Get("X-Keep"), r.Host)
	}))
	first := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		if r.URL.Path == "/auth" {
			fmt.Fprintf(w, "user=%s pass=%s", user, pass)
			return
		}
		http.Redirect(w, r, other.URL+"/there", http.StatusTemporaryRedirect)
	}))
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	resp, err := doReq(t, rl, c, &evclient.Request{URL: first.URL + "/here", Host: "virtual.example",
		Header: http.Header{"Authorization": {"Bearer secret"}, "Cookie": {"a=b"}, "X-Keep": {"kept"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`auth="" cookie="" x="kept" host=%s`, strings.TrimPrefix(other.URL, "http://"))
	if string(resp.Body) != want {
		t.Errorf("got %q, want %q", resp.Body, want)
	}
	u := strings.Replace(first.URL, "http://", "http://al%20ice:s3cret@", 1)
	if resp := mustGet(t, rl, c, u+"/auth#frag"); string(resp.Body) != "user=al ice pass=s3cret" {
		t.Errorf("userinfo: %q", resp.Body)
	}
}
