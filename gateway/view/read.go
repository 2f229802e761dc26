package view

import (
	"sync/atomic"

	"github.com/vmgate/vmgate/hosts"
)

// readCache makes a read of the view cheap: the MIB reads once per SNMP request, and
// building a map of every host and of every host's counters per read costs tens of
// microseconds with 100 hosts. A Snapshot shares the maps of an earlier read while
// nothing in them changed: the host map until a write touches the host table (its
// memdb watch channel closes), the counters map until a host's counters are swapped (a
// generation count, not a scan of every host). Snapshots never modify their maps, so
// sharing them is safe.
type readCache struct {
	hosts atomic.Pointer[hostMap]
	stats atomic.Pointer[statsCache]
}

type hostMap struct {
	m     map[string]*HostEntry
	watch <-chan struct{} // closed when the host table changes
}

// Read returns a snapshot of the view as it is now.
func (v *View) Read() *Snapshot {
	c := &v.reads
	s := &Snapshot{v: v, txn: v.db.Txn(false), now: v.now(), interval: v.defaultStatsInterval}
	// The transaction is taken first: if the watch is still open after that, the host
	// table has not changed since the cached map was built, so the map is this
	// transaction's. A map built from an older transaction has a closed watch.
	hm := c.hosts.Load()
	if hm == nil || closed(hm.watch) {
		hm = &hostMap{m: map[string]*HostEntry{}}
		if it, err := s.txn.Get(tableHost, indexID); err == nil {
			hm.watch = it.WatchCh()
			for raw := it.Next(); raw != nil; raw = it.Next() {
				e := raw.(*HostEntry)
				hm.m[e.Name] = e
			}
		}
		if hm.watch != nil {
			c.hosts.Store(hm)
		}
	}
	s.hosts = hm.m
	s.stats = v.statsMap()
	return s
}

// statsMap returns the hosts' current counter snapshots: the cached map while no
// Stats call (or host removal) has happened since it was built.
func (v *View) statsMap() map[string]*hosts.Stats {
	c := &v.reads
	gen := v.statsGen.Load() // before reading the pointers: a later change bumps it
	if old := c.stats.Load(); old != nil && old.gen == gen {
		return old.m
	}
	v.statsMu.RLock()
	m := make(map[string]*hosts.Stats, len(v.stats))
	for name, p := range v.stats {
		if st := p.Load(); st != nil {
			m[name] = st
		}
	}
	v.statsMu.RUnlock()
	// Store, then check: a swap whose dropStats ran between a check and the Store
	// would leave this map, and the snapshots it replaced, cached. If the generation
	// moved, the swap's dropStats may have come before the Store: undo it (unless
	// another read replaced it meanwhile).
	sc := &statsCache{gen: gen, m: m}
	c.stats.Store(sc)
	if v.statsGen.Load() != gen {
		c.stats.CompareAndSwap(sc, nil)
	}
	return m
}

// dropStats forgets the cached counters map once a host's counters changed: the next
// read builds another anyway, and until then the map would keep every host's previous
// snapshot alive (a second copy of the fleet's counters between reads).
func (c *readCache) dropStats() { c.stats.Store(nil) }

// statsCache is a counters map and the View.statsGen it was built at.
type statsCache struct {
	gen uint64
	m   map[string]*hosts.Stats
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
