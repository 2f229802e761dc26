package view

import (
	"errors"
	"maps"

	"github.com/vmgate/vmgate/gateway/registry"

	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/vmgate/vmgate/hosts"
)

// DefaultStatsInterval is the polling period assumed for a host whose HostSpec gives none.
const DefaultStatsInterval = 10 * time.Second

// View is the gateway's merged view of every host: a go-memdb inventory (VMs, storage
// pools, disk images, hosts) plus one immutable counter snapshot per host. It implements
// hosts.Sink. Writers are serialised by a mutex and only touch memory (index
// allocation included; the registry writes its file in the background), so Sink calls
// return promptly; readers take a Snapshot (Read) and never block writers.
type View struct {
	db                   *memdb.MemDB
	reg                  registry.Store
	logger               *slog.Logger
	now                  func() time.Time
	defaultStatsInterval time.Duration

	mu         sync.Mutex                          // one writer at a time
	seq        uint64                              // counts Sink calls: "reported first" for the merged rule
	configured atomic.Pointer[map[string]HostSpec] // nil until SetHosts
	dupWarned  map[hosts.UUID]bool
	strs       *strTable // the records' interned strings
	// vmHosts is, per vmId, the hosts with a record of it in name order, as committed:
	// what a memdb index by vmId answered at a radix leaf (about 370 bytes) per VM.
	vmHosts vmHostMap

	statsMu  sync.RWMutex
	stats    map[string]*atomic.Pointer[hosts.Stats]
	statsGen atomic.Uint64 // counts changes of stats (a pointer swapped, a host gone)

	changes atomic.Pointer[func(Change)] // told of state changes after they commit

	pendMu  sync.Mutex
	pending map[string]map[hosts.UUID]hosts.Domain // per host: domains waiting for indexes

	reads readCache                           // what Read shares between snapshots
	vms   atomic.Pointer[perTree[vmIndex]]    // the merged context's flat index, of the latest tree seen
	oses  atomic.Pointer[perTree[osIndex]]    // the OS rows of every context, of the latest tree seen
	imgs  atomic.Pointer[perTree[imageIndex]] // the merged context's disk images, of the latest tree seen

	// tableChanged is, per host and "" for the merged context, when a VM row last
	// appeared or went (VM-MIB's vmTableLastChange); replaced whole on each change.
	tableChanged atomic.Pointer[map[string]time.Time]
}

// Change is a state change the view applied that a notification reports: a VM's state
// after a libvirt event (VMID set), or a host's connection going up or down.
type Change struct {
	Host string
	VMID uint32 // 0: the host's connection changed
}

// OnChange sets the function told of every Change after its transaction commits,
// under the view's write lock: it must not block (queue the change and return).
func (v *View) OnChange(f func(Change)) { v.changes.Store(&f) }

var _ hosts.Sink = (*View)(nil)

// HostSpec is a configured host as the view needs it.
type HostSpec struct {
	Name          string
	URI           string
	StatsInterval time.Duration // 0: DefaultStatsInterval
}

// HostSpecs converts the hosts section of the configuration for SetHosts.
func HostSpecs(cfgs []hosts.Config) []HostSpec {
	out := make([]HostSpec, 0, len(cfgs))
	for _, c := range cfgs {
		iv := c.StatsInterval
		if iv == 0 {
			iv = hosts.DefaultStatsInterval
		}
		out = append(out, HostSpec{Name: c.Name, URI: c.URI, StatsInterval: iv})
	}
	return out
}

// Option configures New.
type Option func(*View)

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(v *View) { v.now = now } }

// New returns an empty view allocating its indexes from reg. The caller owns reg
// and closes it after the last Sink call.
func New(reg registry.Store, logger *slog.Logger, opts ...Option) (*View, error) {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, fmt.Errorf("view: %w", err)
	}
	v := &View{
		db:                   db,
		reg:                  reg,
		logger:               logger,
		now:                  time.Now,
		defaultStatsInterval: DefaultStatsInterval,
		dupWarned:            map[hosts.UUID]bool{},
		strs:                 newStrTable(),
		vmHosts:              vmHostMap{one: map[uint32]string{}, more: map[uint32][]string{}},
		stats:                map[string]*atomic.Pointer[hosts.Stats]{},
	}
	for _, o := range opts {
		o(v)
	}
	return v, nil
}

// SetHosts declares the configured hosts (at start and on every reload, BEFORE starting
// the supervisors of new hosts). Hosts no longer listed lose all their rows; from the
// first call on, Sink calls for unlisted hosts are ignored, so a late event from a
// stopped supervisor cannot resurrect a removed host.
func (v *View) SetHosts(specs []HostSpec) {
	v.mu.Lock()
	defer v.mu.Unlock()
	configured := make(map[string]HostSpec, len(specs))
	for _, s := range specs {
		configured[s.Name] = s
	}
	v.configured.Store(&configured)
	w := v.begin()
	defer w.txn.Abort()
	it, err := w.txn.Get(tableHost, indexID)
	if err != nil {
		v.logger.Error("view: list hosts", "err", err)
		return
	}
	var gone []string
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if _, ok := configured[raw.(*HostEntry).Name]; !ok {
			gone = append(gone, raw.(*HostEntry).Name)
		}
	}
	for _, name := range gone {
		if err := w.dropHost(name); err != nil {
			v.logger.Error("view: remove host", "host", name, "err", err)
			return
		}
	}
	for _, s := range specs {
		err := w.putHost(s.Name, func(*HostEntry) {})
		switch {
		case errors.Is(err, errNoIndex):
			// The registry cannot number it now: the removals still apply, and the host
			// appears with its first write once the registry can.
			v.logger.Warn("view: host not shown yet: the index registry cannot number it", "host", s.Name)
		case err != nil:
			v.logger.Error("view: add host", "host", s.Name, "err", err)
			return
		}
	}
	w.commit()
}

// Health records a host's connection state. A host that is not Up keeps its rows; the
// read API reports them as stale.
func (v *View) Health(host string, h hosts.Health) {
	v.write(host, "health", func(w *writeTxn) error {
		return w.putHost(host, func(e *HostEntry) {
			if e.Health.Status != h.Status && (h.Status == hosts.Up || h.Status == hosts.Down) &&
				!(e.Health.Status == hosts.Up && h.Status == hosts.Connecting) {
				w.changes = append(w.changes, Change{Host: host})
			}
			e.Health = h
		})
	})
}

// Synced replaces everything known about host (domains, pools, images) in one
// transaction: domains deleted meanwhile disappear, new ones appear.
func (v *View) Synced(host string, inv hosts.Inventory) {
	v.write(host, "sync", func(w *writeTxn) error { return w.sync(host, inv) })
}

// DomainUpdated inserts or replaces one domain of host.
func (v *View) DomainUpdated(host string, d hosts.Domain) {
	v.write(host, "domain update", func(w *writeTxn) error {
		if err := w.updateDomain(host, d); err != nil {
			return err
		}
		return w.afterDomains(host)
	})
}

// DomainPatched writes the fields f of d over host's record of d.UUID, in one
// transaction like DomainUpdated; false when host has no record of it, or a newer one
// waits for its indexes (the supervisor then reports the whole domain).
func (v *View) DomainPatched(host string, d hosts.Domain, f hosts.Fields) bool {
	patched := false
	v.write(host, "domain patch", func(w *writeTxn) error {
		if v.isPending(host, d.UUID) { // under the writer's lock, as pending changes
			return nil
		}
		ok, err := w.patch(host, &d, f)
		if err != nil || !ok {
			return err
		}
		patched = true
		return w.afterPatch(host, f)
	})
	return patched
}

// patch writes the fields f of d over host's record of it; false when host has none
// or f does not apply to it (Fields.Apply). A sizes patch writes only the sizes
// (resize).
func (w *writeTxn) patch(host string, d *hosts.Domain, f hosts.Fields) (bool, error) {
	old, err := w.hostVM(host, d.UUID)
	if err != nil || old == nil {
		return false, err
	}
	if f == hosts.FieldSizes {
		w.resize(old, d)
		return true, nil
	}
	nd := old.domain()
	if !f.Apply(&nd, d) {
		return false, nil
	}
	return true, w.updateDomain(host, nd)
}

// DomainsPatched writes the fields f of each of ds over host's record of it in one
// transaction; a record waiting for its indexes takes them too, and a domain host has
// no record of is left out.
func (v *View) DomainsPatched(host string, ds []hosts.Domain, f hosts.Fields) {
	v.write(host, "domains patch", func(w *writeTxn) error {
		// Under the writer's lock: a domain that began to wait since is patched there.
		waiting := v.patchPending(host, ds, f)
		for i := range ds {
			if waiting[ds[i].UUID] { // its retry writes the patched record
				continue
			}
			if _, err := w.patch(host, &ds[i], f); err != nil {
				return err
			}
		}
		return w.afterPatch(host, f)
	})
}

// afterPatch refreshes what depends on host's patched domains: after a sizes patch,
// it stores the resized records and the images their disks feed (storeResized); no
// record came or went.
func (w *writeTxn) afterPatch(host string, f hosts.Fields) error {
	if f == hosts.FieldSizes {
		return w.storeResized(host)
	}
	return w.afterDomains(host)
}

// patchPending applies the fields f of ds to host's domains that wait for indexes,
// and returns which of ds wait.
func (v *View) patchPending(host string, ds []hosts.Domain, f hosts.Fields) map[hosts.UUID]bool {
	v.pendMu.Lock()
	defer v.pendMu.Unlock()
	m := v.pending[host]
	var waiting map[hosts.UUID]bool
	for i := range ds {
		d, ok := m[ds[i].UUID]
		if !ok {
			continue
		}
		if waiting == nil {
			waiting = map[hosts.UUID]bool{}
		}
		waiting[d.UUID] = true
		if f.Apply(&d, &ds[i]) {
			m[d.UUID] = d
		}
	}
	return waiting
}

// updateDomain writes d over what host's record of it is now.
func (w *writeTxn) updateDomain(host string, d hosts.Domain) error {
	w.touch(d.UUID)
	old, err := w.hostVM(host, d.UUID)
	if err != nil {
		return err
	}
	return w.putDomain(host, d, old)
}

// putDomain writes d over host's record old (nil: none) and, when the record was
// written with another state, queues the state change for the notifications.
func (w *writeTxn) putDomain(host string, d hosts.Domain, old *VM) error {
	if err := w.putVM(host, d, old, w.volumeResolver(host, nil)); err != nil {
		return err
	}
	if w.pending[d.UUID] != nil || old != nil && old.Domain.State == d.State {
		return nil // left out for now, or no state change
	}
	if vmID, ok := w.vmID(d.UUID); ok {
		w.changes = append(w.changes, Change{Host: host, VMID: vmID})
	}
	return nil
}

// StorageSynced replaces host's pools and volumes between resyncs; the domains'
// volume disks are resolved again (a volume may have appeared or gone).
func (v *View) StorageSynced(host string, pools []hosts.Pool, vols []hosts.Volume) {
	v.write(host, "storage sync", func(w *writeTxn) error {
		if err := w.syncPools(host, pools); err != nil {
			return err
		}
		if vols == nil {
			vols = []hosts.Volume{} // not nil: nil means "the stored volumes" below
		}
		resolve := w.volumeResolver(host, vols)
		var vms []*VM
		if err := w.eachHostVM(host, func(vm *VM) { vms = append(vms, vm) }); err != nil {
			return err
		}
		for _, vm := range vms {
			w.touch(vm.Domain.UUID)
			if err := w.putVM(host, vm.domain(), vm, resolve); err != nil {
				return err
			}
		}
		return w.syncImages(host, vols, true)
	})
}

// DomainRemoved drops one domain of host.
func (v *View) DomainRemoved(host string, id hosts.UUID) {
	v.write(host, "domain removal", func(w *writeTxn) error {
		w.touch(id)
		w.setPending(id, nil)
		old, err := w.hostVM(host, id)
		if err != nil || old == nil {
			return err
		}
		if err := w.deleteVM(old); err != nil {
			return err
		}
		return w.afterDomains(host)
	})
}

// Stats swaps host's counter snapshot. s must not be modified afterwards.
func (v *View) Stats(host string, s *hosts.Stats) {
	if s == nil || !v.accepts(host) {
		return
	}
	v.statsMu.RLock()
	p := v.stats[host]
	v.statsMu.RUnlock()
	if p == nil {
		v.statsMu.Lock()
		if p = v.stats[host]; p == nil {
			p = new(atomic.Pointer[hosts.Stats])
			v.stats[host] = p
		}
		v.statsMu.Unlock()
	}
	p.Store(s)
	v.statsGen.Add(1) // after the store: a reader of the new count sees s
	v.reads.dropStats()
	v.retryPending(host)
}

// notePending applies a committed transaction's pending domains to the view's.
func (v *View) notePending(w *writeTxn) {
	v.pendMu.Lock()
	defer v.pendMu.Unlock()
	for _, h := range w.dropped {
		delete(v.pending, h)
	}
	if w.host == "" || w.pending == nil && !w.resync {
		return
	}
	m := v.pending[w.host]
	if w.resync || m == nil {
		m = map[hosts.UUID]hosts.Domain{} // a resync says which domains wait, all of them
	}
	for u, d := range w.pending {
		if d == nil {
			delete(m, u)
		} else {
			m[u] = *d
		}
	}
	if v.pending == nil {
		v.pending = map[string]map[hosts.UUID]hosts.Domain{}
	}
	v.pending[w.host] = m
	if len(m) == 0 {
		delete(v.pending, w.host)
	}
}

// isPending tells whether a record of id from host waits for its indexes.
func (v *View) isPending(host string, id hosts.UUID) bool {
	v.pendMu.Lock()
	defer v.pendMu.Unlock()
	_, ok := v.pending[host][id]
	return ok
}

// retryPending writes again the domains of host that waited for their indexes: called
// at each counter poll, so that the view catches up by itself once the registry can
// allocate again.
func (v *View) retryPending(host string) {
	waiting := func() []hosts.Domain {
		v.pendMu.Lock()
		defer v.pendMu.Unlock()
		return slices.Collect(maps.Values(v.pending[host]))
	}
	if len(waiting()) == 0 {
		return
	}
	v.write(host, "retry of domains waiting for indexes", func(w *writeTxn) error {
		for _, d := range waiting() { // read again under the writer's lock: the latest
			if err := w.updateDomain(host, d); err != nil {
				return err
			}
		}
		return w.afterDomains(host)
	})
}

// accepts reports whether Sink calls for host are applied: before the first SetHosts
// every host is, afterwards only configured ones.
func (v *View) accepts(host string) bool {
	m := v.configured.Load()
	if m == nil {
		return true
	}
	_, ok := (*m)[host]
	return ok
}

// spec returns host's configuration, if SetHosts gave one.
func (v *View) spec(host string) (HostSpec, bool) {
	m := v.configured.Load()
	if m == nil {
		return HostSpec{}, false
	}
	s, ok := (*m)[host]
	return s, ok
}

// write runs fn in one write transaction for host and commits it, or logs why not.
func (v *View) write(host, what string, fn func(*writeTxn) error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.accepts(host) {
		v.logger.Debug("view: ignoring unconfigured host", "host", host, "op", what)
		return
	}
	w := v.begin()
	w.host = host
	defer w.txn.Abort()
	if err := fn(w); err != nil {
		v.logger.Error("view: "+what+" not applied", "host", host, "err", err)
		return
	}
	w.commit()
}

func (v *View) begin() *writeTxn {
	v.seq++
	return &writeTxn{v: v, txn: v.db.Txn(true), seq: v.seq, now: v.now(),
		before: map[hosts.UUID]map[[2]string]bool{}, held: map[hosts.UUID][]string{}, osIdx: map[string]uint32{}}
}

// writeTxn is one write transaction plus what it needs to release indexes and warn
// about duplicates when it commits.
type writeTxn struct {
	v       *View
	txn     *memdb.Txn
	seq     uint64
	now     time.Time
	resync  bool                              // a full resync, not an event
	before  map[hosts.UUID]map[[2]string]bool // per touched UUID: sub-index keys held before
	held    map[hosts.UUID][]string           // per touched UUID: the hosts with a record before
	changes []Change                          // told to OnChange's function after commit
	osIdx   map[string]uint32                 // agent os keys seen by subKeys: their osIndex
	// releases are the registry keys to release once the transaction has committed;
	// a key indexed again before the commit leaves the set.
	releases map[[2]string]bool
	host     string                       // the host written, "" for SetHosts
	missing  int                          // indexes the registry could not give
	pending  map[hosts.UUID]*hosts.Domain // domains left out (non-nil) or written (nil)
	vmHosts  map[uint32][]string          // View.vmHosts' lists this transaction changed
	dropped  []string                     // hosts removed: their pending domains go
	resized  map[string]bool              // image paths whose disks' sizes resize changed
	// resizedVMs are the records resize made, stored by storeResized.
	resizedVMs map[hosts.UUID]*VM
	// vmIDs are the vmIds this transaction got (UUID text to vmId): a registry's Lookup
	// may show a new number only later (etcd's mirror), its records must not wait.
	vmIDs map[string]uint32
}

// index returns key's number in namespace, allocating it; a release of the key pending
// in this transaction is cancelled. A 0 (the registry cannot allocate now) is counted
// in missing.
func (w *writeTxn) index(namespace, key string) uint32 {
	delete(w.releases, [2]string{namespace, key})
	id := w.v.reg.Index(namespace, key)
	switch {
	case id == 0:
		w.missing++
	case namespace == registry.NSVM:
		if w.vmIDs == nil {
			w.vmIDs = map[string]uint32{}
		}
		w.vmIDs[key] = id
	}
	return id
}

// vmID is u's vmId: the one this transaction got, else the registry's.
func (w *writeTxn) vmID(u hosts.UUID) (uint32, bool) {
	key := u.String()
	if id, ok := w.vmIDs[key]; ok {
		return id, true
	}
	return w.v.reg.Lookup(registry.NSVM, key)
}

// setPending records that domain u of the transaction's host waits for its indexes
// (d) or no longer does (nil); commit applies it to the view's pending domains.
func (w *writeTxn) setPending(u hosts.UUID, d *hosts.Domain) {
	if w.pending == nil {
		w.pending = map[hosts.UUID]*hosts.Domain{}
	}
	w.pending[u] = d
}

// release releases key once the transaction commits (never when it aborts).
func (w *writeTxn) release(namespace, key string) {
	if w.releases == nil {
		w.releases = map[[2]string]bool{}
	}
	w.releases[[2]string{namespace, key}] = true
}

// touch records the registry keys a UUID's records hold before they change.
func (w *writeTxn) touch(u hosts.UUID) {
	if _, ok := w.before[u]; !ok {
		w.before[u] = w.subKeys(u)
		w.held[u] = recordHosts(w.records(u))
	}
}

// records returns every host's record of u, hosts in name order: the records of u's
// vmId (the registry keeps it until the commit after the last record of u went).
func (w *writeTxn) records(u hosts.UUID) []*VM {
	vmID, ok := w.vmID(u)
	if !ok {
		return nil
	}
	var out []*VM
	for _, h := range w.hostsOf(vmID) {
		raw, err := w.txn.First(tableVM, indexID, hostNumKey(h, vmID))
		if vm, _ := raw.(*VM); err == nil && vm != nil && vm.Domain.UUID == u {
			out = append(out, vm)
		}
	}
	return out
}

// recordHosts returns the hosts of records, in their order.
func recordHosts(recs []*VM) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Host
	}
	return out
}

func (w *writeTxn) subKeys(u hosts.UUID) map[[2]string]bool {
	keys := map[[2]string]bool{}
	for _, vm := range w.records(u) {
		vm.regKeys(func(ns, key string, _ *uint32) { keys[[2]string{ns, key}] = true })
		if vm.Domain.GuestOS.Known() { // an agent's os key (osRegKey)
			k := osRegKey(&vm.Domain)
			keys[[2]string{registry.NSOS, k}] = true
			w.osIdx[k] = vm.OSIndex
		}
	}
	return keys
}

// osHeld reports whether k is an os key that a VM still holds: those keys are shared by
// every VM with the same guest OS.
func (w *writeTxn) osHeld(k [2]string) bool {
	if k[0] != registry.NSOS {
		return false
	}
	raw, err := w.txn.First(tableVM, indexAgentOS, numKey(w.osIdx[k[1]]))
	return err == nil && raw != nil
}

// commit warns once about each new duplicate UUID and commits; then it releases the
// indexes no record holds any more and tells OnChange's function of the changes, so
// that no side effect runs for a transaction that did not commit.
func (w *writeTxn) commit() {
	v := w.v
	var tableChanged []string // hosts whose VM rows appeared or went; "": the merged context's
	for u, old := range w.before {
		now := w.subKeys(u)
		for k := range old {
			if !now[k] && !w.osHeld(k) {
				w.release(k[0], k[1])
			}
		}
		recs := w.records(u)
		if len(recs) == 0 {
			w.release(registry.NSVM, u.String())
		}
		if was, now := w.held[u], recordHosts(recs); !slices.Equal(was, now) {
			for _, h := range append(was, now...) {
				if slices.Contains(was, h) != slices.Contains(now, h) {
					tableChanged = append(tableChanged, h)
				}
			}
			if (len(was) == 0) != (len(now) == 0) {
				tableChanged = append(tableChanged, "")
			}
		}
		switch {
		case len(recs) > 1 && !v.dupWarned[u]:
			v.dupWarned[u] = true
			names := make([]string, len(recs))
			for i, r := range recs {
				names[i] = r.Host
			}
			v.logger.Warn("same VM UUID on several hosts; the merged context shows one",
				"uuid", u.String(), "hosts", names)
		case len(recs) <= 1:
			delete(v.dupWarned, u)
		}
	}
	w.txn.Commit()
	v.dropStale()
	for id, hs := range w.vmHosts {
		v.vmHosts.set(id, hs)
	}
	v.noteTableChanged(tableChanged, w.now)
	for k := range w.releases {
		v.reg.Release(k[0], k[1])
	}
	v.notePending(w)
	if f := v.changes.Load(); f != nil {
		for _, c := range w.changes {
			(*f)(c)
		}
	}
}

// dropStale forgets the cached summaries of the trees a commit replaced.
func (v *View) dropStale() {
	txn := v.db.Txn(false)
	defer txn.Abort()
	dropStale(txn, tableVM, indexID, &v.vms)
	dropStale(txn, tableVM, indexID, &v.oses)
	dropStale(txn, tableImage, indexID, &v.imgs)
}

// noteTableChanged records that the VM rows of hosts (and "": the merged context)
// changed at now.
func (v *View) noteTableChanged(hosts []string, now time.Time) {
	if len(hosts) == 0 {
		return
	}
	m := map[string]time.Time{}
	if old := v.tableChanged.Load(); old != nil {
		maps.Copy(m, *old)
	}
	for _, h := range hosts {
		m[h] = now
	}
	v.tableChanged.Store(&m)
}

// TableChanged returns when a VM row of context ctx ("" merged) last appeared or went
// since the view was made; zero if none did.
func (v *View) TableChanged(ctx string) time.Time {
	if m := v.tableChanged.Load(); m != nil {
		return (*m)[ctx]
	}
	return time.Time{}
}

// hostsOf returns the hosts with a record of vmID in this transaction, in name order.
func (w *writeTxn) hostsOf(vmID uint32) []string {
	if hs, ok := w.vmHosts[vmID]; ok {
		return hs
	}
	return w.v.vmHosts.get(vmID)
}

// vmHostMap is View.vmHosts: a vmId's one host (nearly every vmId) as a map value,
// without the slice a list of one costs, and the hosts of a vmId on several apart.
type vmHostMap struct {
	one  map[uint32]string
	more map[uint32][]string
}

// get returns vmID's hosts in name order (a new slice of one, or the shared list).
func (m *vmHostMap) get(vmID uint32) []string {
	if h, ok := m.one[vmID]; ok {
		return []string{h}
	}
	return m.more[vmID]
}

// set replaces vmID's hosts with hs (none: vmID goes).
func (m *vmHostMap) set(vmID uint32, hs []string) {
	switch len(hs) {
	case 0:
		delete(m.one, vmID)
		delete(m.more, vmID)
	case 1:
		m.one[vmID] = hs[0]
		delete(m.more, vmID)
	default:
		delete(m.one, vmID)
		m.more[vmID] = hs
	}
}

func (m *vmHostMap) len() int { return len(m.one) + len(m.more) }

// insertVM inserts (or replaces) vm's record.
func (w *writeTxn) insertVM(vm *VM) error {
	if err := w.txn.Insert(tableVM, vm); err != nil {
		return err
	}
	hs := w.hostsOf(vm.VMID)
	if i, found := slices.BinarySearch(hs, vm.Host); !found {
		w.setHosts(vm.VMID, slices.Insert(slices.Clone(hs), i, vm.Host))
	}
	return nil
}

// deleteVM deletes vm's record.
func (w *writeTxn) deleteVM(vm *VM) error {
	if err := w.txn.Delete(tableVM, vm); err != nil {
		return err
	}
	hs := w.hostsOf(vm.VMID)
	if i, found := slices.BinarySearch(hs, vm.Host); found {
		w.setHosts(vm.VMID, slices.Delete(slices.Clone(hs), i, i+1))
	}
	return nil
}

// setHosts records vmID's hosts as of this transaction (copies: the view's lists are
// shared until the commit).
func (w *writeTxn) setHosts(vmID uint32, hs []string) {
	if w.vmHosts == nil {
		w.vmHosts = map[uint32][]string{}
	}
	w.vmHosts[vmID] = slices.Clip(hs)
}
