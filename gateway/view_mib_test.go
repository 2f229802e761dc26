package gateway

import (
	"github.com/vmgate/vmgate/gateway/registry"

	"log/slog"
	"maps"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vmgate/vmgate/hosts"
)

// TestReadFastMatchesRead: the MIB's cached read shows what View.Read shows, after
// every kind of change (health, counters, hosts added and removed), also while
// writers and readers run concurrently.
func TestReadFastMatchesRead(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	reg, err := registry.OpenFile(filepath.Join(t.TempDir(), "indexes.json"), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	v, err := NewView(reg, logger)
	if err != nil {
		t.Fatal(err)
	}
	var c readCache
	check := func(step string) {
		t.Helper()
		fast, slow := v.readFast(&c), v.Read()
		if !maps.Equal(fast.hosts, slow.hosts) {
			t.Fatalf("%s: hosts %v, Read has %v", step, fast.hosts, slow.hosts)
		}
		if !maps.Equal(fast.stats, slow.stats) {
			t.Fatalf("%s: stats %v, Read has %v", step, fast.stats, slow.stats)
		}
		for name, e := range slow.hosts {
			if fast.hosts[name].Health != e.Health {
				t.Fatalf("%s: %s health %+v, Read has %+v", step, name, fast.hosts[name].Health, e.Health)
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
					s := v.readFast(&c)
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
