package lat

import (
	"testing"
	"time"
)

func TestPct(t *testing.T) {
	xs := []time.Duration{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
	for _, tt := range []struct {
		p    int
		want time.Duration
	}{{0, 1}, {50, 6}, {90, 10}, {99, 10}, {100, 10}} {
		if got := Pct(xs, tt.p); got != tt.want {
			t.Errorf("Pct(%d) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if xs[0] != 10 {
		t.Error("Pct sorted its argument")
	}
	if got := Mean(xs); got != 5 {
		t.Errorf("Mean = %v, want 5", got)
	}
}
