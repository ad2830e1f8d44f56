package evdns

import (
	"os"
	"time"

	"github.com/eddyloop/eddy"
)

// watchState holds the Stat watchers of WatchFiles and the reloads in
// progress.
type watchState struct {
	conf, hosts         eddy.Stat
	confPath, hostsPath string
	confGen, hostsGen   uint64 // the latest reload started; older ones are ignored
	work                map[*eddy.Work]bool
}

// WatchFiles makes the Resolver follow its configuration files, as the C
// library does when they change. When the file at resolvConf changes
// (written, replaced, created or removed) it is read again on the loop's
// work pool the way SystemConfig reads DefaultResolvConf (a missing file
// gives DefaultConfig; LOCALDOMAIN, RES_OPTIONS and the host name's domain
// apply) and SetConfig installs it; when the file at hosts changes it is
// read again like ReadHosts and SetHosts installs it. An empty path is not
// watched; the files are not read at once, only when they change. A read
// that fails keeps the previous contents and counts in
// Stats.ReloadErrors.
//
// The interval is that of eddy.Stat (the polling period, or the backstop
// period with kernel notifications; zero for the default). The watchers do
// not keep the loop alive. Calling WatchFiles again replaces the watched
// paths; Close stops watching.
func (r *Resolver) WatchFiles(resolvConf, hosts string, interval time.Duration) error {
	if r.closed {
		return ErrClosed
	}
	r.stopWatching()
	w := &watchState{confPath: resolvConf, hostsPath: hosts, work: map[*eddy.Work]bool{}}
	r.watch = w
	if resolvConf != "" {
		w.conf.Init(func(*eddy.Stat) { r.reloadConfig(w) }, resolvConf, interval)
		if err := w.conf.Start(r.loop); err != nil {
			return err
		}
		w.conf.Unref()
	}
	if hosts != "" {
		w.hosts.Init(func(*eddy.Stat) { r.reloadHosts(w) }, hosts, interval)
		if err := w.hosts.Start(r.loop); err != nil {
			w.conf.Stop()
			return err
		}
		w.hosts.Unref()
	}
	return nil
}

// stopWatching stops the watchers and forgets the reloads in progress.
func (r *Resolver) stopWatching() {
	w := r.watch
	if w == nil {
		return
	}
	r.watch = nil
	w.conf.Stop()
	w.hosts.Stop()
	for wk := range w.work {
		wk.Cancel()
	}
	clear(w.work)
}

// reloadConfig reads the configuration file on the work pool and installs
// it, unless a newer reload started meanwhile or watching stopped.
func (r *Resolver) reloadConfig(w *watchState) {
	w.confGen++
	gen := w.confGen
	var c *Config
	var err error
	path := w.confPath
	r.queueReload(w, func() {
		c, err = loadConfig(path, os.LookupEnv, os.Hostname)
	}, func() {
		if gen != w.confGen {
			return
		}
		if err != nil {
			r.stats.ReloadErrors++
			return
		}
		r.stats.Reloads++
		r.SetConfig(c)
	})
}

// reloadHosts is reloadConfig for the hosts file.
func (r *Resolver) reloadHosts(w *watchState) {
	w.hostsGen++
	gen := w.hostsGen
	var h *Hosts
	var err error
	path := w.hostsPath
	r.queueReload(w, func() {
		h, err = ReadHosts(path)
	}, func() {
		if gen != w.hostsGen {
			return
		}
		if err != nil {
			r.stats.ReloadErrors++
			return
		}
		r.stats.Reloads++
		r.SetHosts(h)
	})
}

// queueReload runs read on the loop's work pool, then apply on the loop if
// w is still the Resolver's watch.
func (r *Resolver) queueReload(w *watchState, read, apply func()) {
	var wk *eddy.Work
	wk, err := r.loop.Queue(eddy.LaneFast, read, func(err error) {
		delete(w.work, wk)
		if r.watch != w {
			return
		}
		if err != nil {
			r.stats.ReloadErrors++
			return
		}
		apply()
	})
	if err != nil {
		r.stats.ReloadErrors++
		return
	}
	w.work[wk] = true
}
