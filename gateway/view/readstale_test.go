package view

import (
	"runtime"
	"sync"
	"testing"
	"time"
	"weak"

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

// TestSummaryNotStaleAfterCommit: once requests stop, the view caches no summary
// (vmIndex, osIndex, imageIndex) of a tree a commit replaced. A request whose snapshot
// was taken before a commit and whose first seek comes after it (after the commit's
// dropStale) must not store the summary of its older tree: it would keep the replaced
// record and image alive until the next request, what dropStale is there to prevent.
func TestSummaryNotStaleAfterCommit(t *testing.T) {
	v := openView(t)
	v.SetHosts([]HostSpec{{Name: "a", URI: "test:///a"}})
	d := cursorDomain(4, hosts.StateRunning) // one disk, /img/e
	v.Synced("a", hosts.Inventory{Domains: []hosts.Domain{d}})
	sized := hosts.Domain{UUID: d.UUID, Disks: []hosts.Disk{{Target: "vda", Source: d.Disks[0].Source, Capacity: 10 << 30, Allocation: 1 << 30}}}
	vm, im := func() (weak.Pointer[VM], weak.Pointer[DiskImage]) {
		r, ok := v.Read().VM("", 1) // an earlier walk
		img, ok2 := v.Read().Image("", 1)
		if !ok || !ok2 {
			t.Fatalf("before: VM %v, image %v", ok, ok2)
		}
		s := v.Read()                                                  // a request starts...
		v.DomainsPatched("a", []hosts.Domain{sized}, hosts.FieldSizes) // ...a commit...
		s.vmIndex()                                                    // ...its first seeks
		s.osIndex()
		s.imageIndex()
		return weak.Make(r.VM), weak.Make(img)
	}()
	if img, ok := v.Read().Image("a", 1); !ok || img.Capacity != 10<<30 {
		t.Fatalf("the patch did not apply: %+v", img)
	}
	txn := v.db.Txn(false)
	defer txn.Abort()
	tree := func(table string) <-chan struct{} {
		it, err := txn.Get(table, indexID)
		if err != nil {
			t.Fatal(err)
		}
		return it.WatchCh()
	}
	vmTree, imTree := tree(tableVM), tree(tableImage)
	if c := v.vms.Load(); c != nil && c.tree != vmTree {
		t.Error("the merged VM index of a replaced tree stays cached")
	}
	if c := v.oses.Load(); c != nil && c.tree != vmTree {
		t.Error("the OS index of a replaced tree stays cached")
	}
	if c := v.imgs.Load(); c != nil && c.tree != imTree {
		t.Error("the image index of a replaced tree stays cached")
	}
	runtime.GC()
	if vm.Value() != nil || im.Value() != nil {
		t.Errorf("still reachable: the replaced record %v, the replaced image %v", vm.Value() != nil, im.Value() != nil)
	}
	runtime.KeepAlive(v) // as the daemon's view lives on
}
