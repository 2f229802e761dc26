package view

import (
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/vmgate/vmgate/hosts"
)

// uncached builds the host and counter maps of a read from scratch: the oracle of
// Read's cache.
func uncached(v *View) (map[string]*HostEntry, map[string]*hosts.Stats) {
	hm, sm := map[string]*HostEntry{}, map[string]*hosts.Stats{}
	txn := v.db.Txn(false)
	if it, err := txn.Get(tableHost, indexID); err == nil {
		for raw := it.Next(); raw != nil; raw = it.Next() {
			hm[raw.(*HostEntry).Name] = raw.(*HostEntry)
		}
	}
	v.statsMu.RLock()
	defer v.statsMu.RUnlock()
	for name, p := range v.stats {
		if st := p.Load(); st != nil {
			sm[name] = st
		}
	}
	return hm, sm
}

// TestReadCache: a read that shares the maps of an earlier one shows what a read from
// scratch shows, after every kind of change (health, counters, hosts added and
// removed), also while writers and readers run concurrently.
func TestReadCache(t *testing.T) {
	v := openView(t)
	check := func(step string) {
		t.Helper()
		fast := v.Read()
		hm, sm := uncached(v)
		if !maps.Equal(fast.hosts, hm) {
			t.Fatalf("%s: hosts %v, from scratch %v", step, fast.hosts, hm)
		}
		if !maps.Equal(fast.stats, sm) {
			t.Fatalf("%s: stats %v, from scratch %v", step, fast.stats, sm)
		}
		for name, e := range hm {
			if fast.hosts[name].Health != e.Health {
				t.Fatalf("%s: %s health %+v, from scratch %+v", step, name, fast.hosts[name].Health, e.Health)
			}
		}
	}
	check("empty")
	v.SetHosts([]HostSpec{{Name: "a", URI: "test:///a"}, {Name: "b", URI: "test:///b"}})
	check("hosts set")
	check("again")
	v.Health("a", hosts.Health{Status: hosts.Up, Since: time.Now()})
	check("a up")
	v.Stats("a", &hosts.Stats{At: time.Now()})
	check("a stats")
	v.Stats("a", &hosts.Stats{At: time.Now()})
	check("a new stats")
	v.Synced("a", hosts.Inventory{Domains: []hosts.Domain{{UUID: hosts.UUID{1}, Name: "x", State: hosts.StateRunning}}})
	check("a synced")
	v.Health("a", hosts.Health{Status: hosts.Down, Since: time.Now(), LastError: "gone"})
	check("a down")
	v.SetHosts([]HostSpec{{Name: "b", URI: "test:///b"}, {Name: "c", URI: "test:///c"}})
	check("a removed, c added")

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					s := v.Read()
					_ = s.hosts["b"]
				}
			}
		}()
	}
	for i := range 200 {
		st := hosts.Up
		if i%2 == 0 {
			st = hosts.Down
		}
		v.Health("b", hosts.Health{Status: st, Since: time.Now()})
		v.Stats("c", &hosts.Stats{At: time.Now()})
	}
	close(stop)
	wg.Wait()
	check("after concurrent writes")
}
