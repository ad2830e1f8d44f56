package main

import "testing"

func TestPct(t *testing.T) {
	h := make([]uint32, histMax+1)
	for us := 1; us <= 100; us++ {
		h[us] = 1
	}
	for _, c := range []struct {
		q    float64
		want int64
	}{{0.5, 50}, {0.99, 99}, {1, 100}, {0, 1}} {
		if got := pct(h, 100, c.q); got != c.want {
			t.Errorf("pct(%v) = %d, want %d", c.q, got, c.want)
		}
	}
	if got := pct(h, 0, 0.5); got != 0 {
		t.Errorf("pct of an empty histogram = %d, want 0", got)
	}
}
