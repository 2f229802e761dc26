// Package lat summarises the latencies the benchmark commands measure: percentiles,
// mean, and the one-line summary they print.
package lat

import (
	"fmt"
	"slices"
	"time"
)

// Summary is "n=... errors=... p50_us=... p90_us=... p99_us=... mean_us=...".
func Summary(lat []time.Duration, errs int) string {
	if len(lat) == 0 {
		return fmt.Sprintf("n=0 errors=%d", errs)
	}
	return fmt.Sprintf("n=%d errors=%d p50_us=%d p90_us=%d p99_us=%d mean_us=%d", len(lat), errs,
		Pct(lat, 50).Microseconds(), Pct(lat, 90).Microseconds(), Pct(lat, 99).Microseconds(), Mean(lat).Microseconds())
}

// Pct is the p-th percentile of lat (nearest rank, at least the smallest); lat is not
// modified. lat must not be empty.
func Pct(lat []time.Duration, p int) time.Duration {
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// Mean is the mean of lat, which must not be empty.
func Mean(lat []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	return sum / time.Duration(len(lat))
}
