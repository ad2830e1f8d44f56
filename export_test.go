package eddy

// Export guts for testing.

// Verify checks the loop's invariants and panics with a description of the
// first one broken (the check debug mode runs after every iteration).
func (l *Loop) Verify() { l.verify() }

// Refs returns the number of active watchers that keep Run alive.
func (l *Loop) Refs() int { return l.refs }

// Pending returns the number of queued callbacks not yet taken.
func (l *Loop) Pending() int { return l.npending }
