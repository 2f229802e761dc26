package hosts

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// dueSizes is a domain's disks outside pools whose sizes the resync left to
// readDueSizes: no bulk call gave them (a running domain's, or any on a driver without
// block stats), and one DomainGetBlockInfo each would hold up the first view.
type dueSizes struct {
	dom   libvirt.Domain
	disks []dueDisk
}

// dueDisk is what readDueSizes needs of a disk to read its sizes and report them
// (FieldSizes matches target and source), not the whole Disk.
type dueDisk struct{ target, source string }

// dueSizesBatch is how many domains' sizes go to the Sink in one DomainsPatched.
const dueSizesBatch = 256

// readDueSizes reads the sizes the last resync left (sizesDue) and reports them in
// batches (Sink.DomainsPatched, FieldSizes); a domain re-read whole meanwhile has
// them already and is left out (sized). A disk libvirt cannot size keeps what the view
// shows. Only a lost connection is returned.
func (s *Supervisor) readDueSizes(ctx context.Context, c *conn) error {
	s.mu.Lock()
	ids := make([]UUID, 0, len(s.sizesDue))
	for id := range s.sizesDue {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for len(ids) > 0 {
		n := min(len(ids), dueSizesBatch)
		batch := make([]Domain, 0, n)
		for _, id := range ids[:n] {
			s.mu.Lock()
			due, ok := s.sizesDue[id]
			s.mu.Unlock()
			if !ok {
				continue
			}
			d := Domain{UUID: id}
			for _, dk := range due.disks {
				got, ok, err := s.blockInfo(ctx, c, due.dom, cmp.Or(dk.target, dk.source))
				if err != nil {
					return err
				}
				if ok { // else it keeps what it shows: unknown, or the last read's
					d.Disks = append(d.Disks, Disk{Target: dk.target, Source: dk.source,
						Capacity: got.Capacity, Allocation: got.Allocation})
				}
			}
			batch = append(batch, d) // even without disks: no longer due
		}
		ids = ids[n:]
		if err := s.reportSizes(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

// blockInfo reads one disk's sizes (DomainGetBlockInfo); ok is false when libvirt could
// not size it (logged at debug level). Only a lost connection is returned.
func (s *Supervisor) blockInfo(ctx context.Context, c *conn, dom libvirt.Domain, target string) (d Disk, ok bool, err error) {
	got, err := callT(ctx, c, fmt.Sprintf("DomainGetBlockInfo %q %s", dom.Name, target), func(l *lv) (Disk, error) {
		alloc, capacity, _, err := l.DomainGetBlockInfo(dom, target, 0)
		return Disk{Target: target, Capacity: capacity, Allocation: alloc}, err
	})
	if connLost(err) || ctx.Err() != nil {
		return got, false, err
	}
	if err != nil {
		s.log.Debug("disk sizes not read", "domain", dom.Name, "disk", target, "err", err)
		return got, false, nil
	}
	return got, true, nil
}

// lastSizes gives the disks of doms whose sizes are due (a reconnect's resync) the
// sizes the plans last held for the same target (a disk whose source changed shows the
// old sizes until the read), so that the view keeps
// showing them, not unknown, until readDueSizes reads them again.
func (a *addrPlans) lastSizes(doms []Domain, due map[UUID]dueSizes) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range doms {
		d := &doms[i]
		x := a.m[d.UUID]
		if _, isDue := due[d.UUID]; x == nil || !isDue {
			continue
		}
		for j := range d.Disks {
			dk := &d.Disks[j]
			for _, old := range x.plan.sized {
				if dk.Capacity == 0 && dk.Allocation == 0 && old.target == dk.Target {
					dk.Capacity, dk.Allocation = old.capacity, old.allocation
				}
			}
		}
	}
}

// reportSizes hands the sizes read to the Sink, but for the domains re-read whole
// since (no longer in sizesDue), and lets the address rounds watch them.
func (s *Supervisor) reportSizes(ctx context.Context, batch []Domain) error {
	if err := s.lockView(ctx); err != nil {
		return err
	}
	defer s.unlockView()
	out := batch[:0]
	s.mu.Lock()
	for _, d := range batch {
		if _, ok := s.sizesDue[d.UUID]; ok {
			delete(s.sizesDue, d.UUID)
			out = append(out, d)
		}
	}
	s.mu.Unlock()
	if len(out) == 0 {
		return nil
	}
	for i := range out {
		s.plans.addSized(out[i].UUID, out[i].Disks)
	}
	s.emit(func() { s.sink.DomainsPatched(s.cfg.Name, out, FieldSizes) })
	return nil
}

// sized notes that id's sizes were read with the rest of it (or it is gone): not due.
func (s *Supervisor) sized(id UUID) {
	s.mu.Lock()
	delete(s.sizesDue, id)
	s.mu.Unlock()
}

// SizesDue is how many domains still wait for the sizes of disks outside pools that the
// last resync left for later (0 once they are reported); a figure for benchmarks.
func (s *Supervisor) SizesDue() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sizesDue)
}

// SyncGate holds back what the supervisors sharing it would ask of their hosts right
// after their first resync (the first full address round, the sizes the resync left),
// until every one of them has made its first resync attempt or hold has passed since
// its own resync: hosts that share a libvirtd (or a network) serve the inventories
// first.
type SyncGate struct {
	hold    time.Duration
	mu      sync.Mutex
	pending int
	open    chan struct{} // closed when pending falls to 0
}

// NewSyncGate returns a gate that holds a supervisor's first rounds for at most hold.
func NewSyncGate(hold time.Duration) *SyncGate { return &SyncGate{hold: hold} }

// WithSyncGate has the supervisor wait at g (see SyncGate).
func WithSyncGate(g *SyncGate) Option { return func(s *Supervisor) { s.gate = g } }

// join counts one more supervisor before its first resync; done (idempotent) says it
// has made its first attempt.
func (g *SyncGate) join() (done func()) {
	if g == nil {
		return func() {}
	}
	g.mu.Lock()
	if g.pending == 0 {
		g.open = make(chan struct{})
	}
	g.pending++
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			if g.pending--; g.pending == 0 {
				close(g.open)
			}
			g.mu.Unlock()
		})
	}
}

// opened is closed once no supervisor waits for its first resync attempt; nil (never
// ready) without a gate.
func (g *SyncGate) opened() <-chan struct{} {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open
}

// held says whether a supervisor that resynced at synced still waits at g.
func (g *SyncGate) held(synced, now time.Time) bool {
	if g == nil || now.Sub(synced) >= g.hold {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pending > 0
}

// held says whether the supervisor's first rounds after its resync still wait at its
// gate.
func (s *Supervisor) held(now time.Time) bool {
	s.mu.Lock()
	synced := s.syncedAt
	s.mu.Unlock()
	return s.gate.held(synced, now)
}
