package poller

// builtin is a backend built for this system, by name.
type builtin struct {
	name string
	open func() (Poller, error)
}

// builtins lists the backends built for this system: the native ones
// (natives, from the file of each mechanism) and poll(2), which every unix
// has.
func builtins() []builtin {
	return append(natives[:len(natives):len(natives)], builtin{"poll", NewPoll})
}

// Names returns the names of the backends built for this system, the one
// New returns first.
func Names() []string {
	names := []string{defaultName}
	for _, b := range builtins() {
		if b.name != defaultName {
			names = append(names, b.name)
		}
	}
	return names
}

// Open returns a new backend of the kind called name, one of Names. The
// second result is false, and the others zero, when no backend of that name
// is built for this system.
func Open(name string) (Poller, bool, error) {
	for _, b := range builtins() {
		if b.name == name {
			p, err := b.open()
			return p, true, err
		}
	}
	return nil, false, nil
}
