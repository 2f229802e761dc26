package view

import (
	"sync"
	"testing"
	"time"

	"github.com/vmgate/vmgate/hosts"
)

// TestReadCacheNoStaleAfterSwap: once reads and counter swaps stop, the read cache
// holds nothing older than the last swap (nil, or a map of the current generation). A
// read that checked the generation just before a swap must not store its map after the
// swap's dropStats: that map would keep the replaced snapshots alive until the next
// read or swap, what dropStats is there to prevent. The race is narrow: the test runs
// many rounds (it showed within a few hundred).
func TestReadCacheNoStaleAfterSwap(t *testing.T) {
	v := openView(t)
	v.SetHosts([]HostSpec{{Name: "a", URI: "test:///a"}, {Name: "b", URI: "test:///b"}})
	for round := range 30000 {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 10 {
					v.Read()
				}
			})
		}
		for _, h := range []string{"a", "b"} {
			wg.Go(func() {
				for range 10 {
					v.Stats(h, &hosts.Stats{At: time.Now()})
				}
			})
		}
		wg.Wait()
		if c := v.reads.stats.Load(); c != nil && c.gen != v.statsGen.Load() {
			t.Fatalf("round %d: the read cache holds a map of generation %d after the swaps to %d", round, c.gen, v.statsGen.Load())
		}
	}
}
