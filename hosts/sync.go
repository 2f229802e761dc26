package hosts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// domainEvents are the events, besides lifecycle, after which a domain is re-read.
// They are registered with libvirt only: the connection's reader takes them off the
// wire (readErrConn.tapEvents), with no goroutine per subscription.
var domainEvents = []libvirt.DomainEventID{
	libvirt.DomainEventIDDeviceAdded, libvirt.DomainEventIDDeviceRemoved,
	libvirt.DomainEventIDDeviceRemovalFailed, libvirt.DomainEventIDBalloonChange,
	libvirt.DomainEventIDTunable, libvirt.DomainEventIDMetadataChange,
}

// subscribe registers for lifecycle and device events before the resync, so nothing
// that happens during the resync is missed. One goroutine reads the lifecycle events
// until the channel closes (when the connection ends); device events only mark
// domains dirty, from the connection's reader.
func (s *Supervisor) subscribe(ctx context.Context, c *conn, dirty *dirtySet) error {
	// The reader starts inside the call: were it abandoned, its channel is drained
	// all the same, or go-libvirt's sender would block forever. The subscriptions, and
	// their registration calls, live as long as the connection, never cancelled:
	// deregistering while the socket closes crashes libvirt 9.0's daemon.
	subCtx := context.WithoutCancel(ctx)
	err := c.call(subCtx, "subscribe lifecycle events", func(l *lv) error {
		lc, err := l.LifecycleEvents(subCtx)
		if err == nil {
			go func() {
				for ev := range lc {
					s.event(ev)
					if s.waits.fire(ev) {
						continue // an operation reported this state already
					}
					if stateOnly(ev) {
						dirty.addState(UUID(ev.Dom.UUID))
					} else {
						dirty.add(UUID(ev.Dom.UUID))
					}
				}
			}()
		}
		return err
	})
	if err != nil {
		return err
	}
	c.nc.tapEvents(dirty.add)
	for _, id := range domainEvents {
		if ctx.Err() != nil {
			return fmt.Errorf("subscribe events: %w", ctx.Err())
		}
		err := c.call(subCtx, fmt.Sprintf("subscribe event %d", id), func(l *lv) error {
			_, err := l.ConnectDomainEventCallbackRegisterAny(int32(id), nil)
			return err
		})
		if connLost(err) {
			return err
		}
		if err != nil { // an old or limited driver: lifecycle events are enough
			s.log.Info("domain event unavailable", "event_id", int(id), "err", err)
		}
	}
	err = c.call(subCtx, "subscribe storage pool events", func(l *lv) error {
		_, err := l.ConnectStoragePoolEventRegisterAny(int32(libvirt.StoragePoolEventIDLifecycle), nil)
		return err
	})
	if connLost(err) {
		return err
	}
	if c.poolEvents = err == nil; err != nil {
		s.log.Info("storage pool events unavailable: pools listed at every stats round", "err", err)
	}
	return nil
}

// stateOnly says whether a lifecycle event changes nothing of its domain but the
// state: a pause or a resume of the running domain, which a state read covers. A
// start, a stop, a migration or a snapshot's revert change more (the live XML, the ID).
func stateOnly(ev libvirt.DomainEventLifecycleMsg) bool {
	switch libvirt.DomainEventType(ev.Event) {
	case libvirt.DomainEventSuspended:
		switch libvirt.DomainEventSuspendedDetailType(ev.Detail) {
		case libvirt.DomainEventSuspendedPaused, libvirt.DomainEventSuspendedIoerror,
			libvirt.DomainEventSuspendedWatchdog, libvirt.DomainEventSuspendedAPIError:
			return true
		}
	case libvirt.DomainEventResumed:
		return libvirt.DomainEventResumedDetailType(ev.Detail) == libvirt.DomainEventResumedUnpaused
	}
	return false
}

// resync reads everything and reports it as one Synced.
func (s *Supervisor) resync(ctx context.Context, c *conn) error {
	if err := s.lockView(ctx); err != nil {
		return err
	}
	defer s.unlockView()
	s.waits.forgetEarly() // the view is read anew: no early report stands in it
	start, rpcs := time.Now(), c.nc.replies()
	inv, due, err := s.inventory(ctx, c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.sizesDue, s.syncedAt = due, time.Now()
	s.mu.Unlock()
	s.plans.lastSizes(inv.Domains, due)
	s.plans.reset(inv.Domains)
	for i := range inv.Domains {
		s.plans.withGuestOS(&inv.Domains[i])
	}
	s.emit(func() { s.sink.Synced(s.cfg.Name, inv) })
	rpcs = c.nc.replies() - rpcs
	s.setUp(start, rpcs)
	s.log.Info("resynced", "rpcs", rpcs, "domains", len(inv.Domains), "pools", len(inv.Pools),
		"volumes", len(inv.Volumes), "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

func (s *Supervisor) lockView(ctx context.Context) error {
	select {
	case s.view <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the host view: %w", ctx.Err())
	}
}

func (s *Supervisor) unlockView() { <-s.view }

func (s *Supervisor) inventory(ctx context.Context, c *conn) (Inventory, map[UUID]dueSizes, error) {
	inv := Inventory{}
	var err error
	if inv.Hypervisor, err = s.hypervisor(ctx, c); err != nil {
		return inv, nil, err
	}
	// Storage first: describe asks for the sizes of the disks outside pools only.
	inv.Pools, inv.Volumes, err = s.storage(ctx, c)
	if connLost(err) {
		return inv, nil, err
	}
	if err != nil { // hosts without a storage driver still have domains
		s.log.Warn("storage pools not read", "err", err)
	}
	var due map[UUID]dueSizes
	if inv.Domains, due, err = s.domains(ctx, c); err != nil {
		return inv, nil, err
	}
	// libvirt lists in hash order: sort, so equal hosts give equal inventories.
	slices.SortFunc(inv.Domains, func(a, b Domain) int { return strings.Compare(a.Name, b.Name) })
	return inv, due, nil
}

func (s *Supervisor) hypervisor(ctx context.Context, c *conn) (Hypervisor, error) {
	return callT(ctx, c, "read hypervisor info", func(l *lv) (h Hypervisor, err error) {
		h.URI = s.cfg.URI
		if h.Type, err = l.ConnectGetType(); err != nil {
			return h, fmt.Errorf("ConnectGetType: %w", err)
		}
		if h.Version, err = l.ConnectGetVersion(); err != nil {
			return h, fmt.Errorf("ConnectGetVersion: %w", err)
		}
		if h.LibvirtVersion, err = l.ConnectGetLibVersion(); err != nil {
			return h, fmt.Errorf("ConnectGetLibVersion: %w", err)
		}
		if h.Hostname, err = l.ConnectGetHostname(); err != nil {
			return h, fmt.Errorf("ConnectGetHostname: %w", err)
		}
		h.Node, err = nodeInfo(l)
		return h, err
	})
}

func nodeInfo(l *lv) (NodeInfo, error) {
	model, mem, cpus, mhz, nodes, sockets, cores, threads, err := l.NodeGetInfo()
	if err != nil {
		return NodeInfo{}, fmt.Errorf("NodeGetInfo: %w", err)
	}
	var b strings.Builder
	for _, ch := range model {
		if ch == 0 {
			break
		}
		b.WriteByte(byte(ch))
	}
	return NodeInfo{
		Model: b.String(), MemoryKiB: mem, CPUs: uint32(cpus), MHz: uint32(mhz),
		Nodes: uint32(nodes), Sockets: uint32(sockets), Cores: uint32(cores), Threads: uint32(threads),
	}, nil
}

// domainFacts is what a few calls per host say of every domain: its handle (with its
// ID), persistence, autostart, and its state from the state stats. resync reads only
// the XML per domain on top of them (and the sizes of disks outside pools).
type domainFacts struct {
	list       []libvirt.Domain
	persistent map[UUID]bool
	autostart  map[UUID]bool
	stats      map[UUID]DomainStats  // state and reason; nil: ask each domain
	sizes      map[UUID][]BlockStats // the inactive domains' disk sizes (block stats)
}

// listFacts makes the per-host calls: one ConnectGetAllDomainStats of the state group,
// whose records list every domain with its handle, and ConnectListAllDomains for the
// persistent and the autostarted ones. A daemon without the stats call (NOWAIT) gets
// a listing of all domains instead, each described on its own.
func listFacts(ctx context.Context, c *conn) (domainFacts, error) {
	var f domainFacts
	recs, err := callT(ctx, c, "ConnectGetAllDomainStats state", func(l *lv) ([]statsRecord, error) {
		return c.allDomainStats(l, libvirt.DomainStatsState, libvirt.ConnectGetAllDomainsStatsNowait)
	})
	if connLost(err) {
		return f, err
	}
	if err != nil { // an old daemon, no NOWAIT: each domain is described on its own
		f.list, err = listDomains(ctx, c, "ConnectListAllDomains", libvirt.ConnectListDomainsActive|libvirt.ConnectListDomainsInactive)
		return f, err
	}
	f.list = make([]libvirt.Domain, len(recs))
	f.stats = make(map[UUID]DomainStats, len(recs))
	for i, r := range recs {
		f.list[i] = r.Dom
		f.stats[r.Stats.UUID] = r.Stats
	}
	set := func(what string, flags libvirt.ConnectListAllDomainsFlags) (map[UUID]bool, error) {
		doms, err := listDomains(ctx, c, what, flags)
		m := make(map[UUID]bool, len(doms))
		for _, d := range doms {
			m[UUID(d.UUID)] = true
		}
		return m, err
	}
	if f.persistent, err = set("ConnectListAllDomains persistent", libvirt.ConnectListDomainsPersistent); err != nil {
		return f, err
	}
	if f.autostart, err = set("ConnectListAllDomains autostart", libvirt.ConnectListDomainsAutostart); err != nil {
		return f, err
	}
	f.sizes, err = inactiveSizes(ctx, c)
	return f, err
}

// inactiveSizes reads the disk sizes of the inactive domains in one call: libvirt reads
// them from the images as DomainGetBlockInfo does for an inactive domain (the same
// capacity and allocation; for a running one the two differ). nil when the driver has
// no block stats (the test driver): each disk is then asked for.
func inactiveSizes(ctx context.Context, c *conn) (map[UUID][]BlockStats, error) {
	recs, err := callT(ctx, c, "ConnectGetAllDomainStats block inactive", func(l *lv) ([]statsRecord, error) {
		return c.allDomainStats(l, libvirt.DomainStatsBlock,
			libvirt.ConnectGetAllDomainsStatsInactive|libvirt.ConnectGetAllDomainsStatsNowait)
	})
	if connLost(err) {
		return nil, err
	}
	if err != nil {
		return nil, nil
	}
	var out map[UUID][]BlockStats
	for _, r := range recs {
		if len(r.Stats.Blocks) > 0 {
			if out == nil {
				out = map[UUID][]BlockStats{}
			}
			out[r.Stats.UUID] = r.Stats.Blocks
		}
	}
	return out, nil
}

func listDomains(ctx context.Context, c *conn, what string, flags libvirt.ConnectListAllDomainsFlags) ([]libvirt.Domain, error) {
	return callT(ctx, c, what, func(l *lv) ([]libvirt.Domain, error) {
		list, _, err := l.ConnectListAllDomains(1, flags)
		return list, err
	})
}

// domains lists all domains and describes them with a few calls in flight at once;
// due holds the disks outside pools whose sizes no bulk call gave (readDueSizes).
func (s *Supervisor) domains(ctx context.Context, c *conn) (doms []Domain, due map[UUID]dueSizes, err error) {
	facts, err := listFacts(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	list := facts.list
	out := make([]Domain, len(list))
	unsized := make([][]dueDisk, len(list))
	errs := make([]error, len(list))
	// libvirtd serves at most max_client_requests (5) calls of one client at once; keep
	// two for the watchdog, stats and operations.
	sem := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for i, dom := range list {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i], unsized[i], errs[i] = describeListed(ctx, c, dom, &facts, s.inPool)
		}()
	}
	wg.Wait()
	doms = out[:0]
	for i, err := range errs {
		switch {
		case errors.Is(err, ErrNotFound): // gone since the list: its event follows
		case connLost(err) || ctx.Err() != nil:
			return nil, nil, err
		case err != nil: // one odd domain must not keep the whole host down
			s.log.Warn("domain skipped in resync", "domain", list[i].Name, "err", err)
		default:
			if len(unsized[i]) > 0 {
				if due == nil {
					due = map[UUID]dueSizes{}
				}
				due[out[i].UUID] = dueSizes{dom: list[i], disks: unsized[i]}
			}
			doms = append(doms, out[i])
		}
	}
	return doms, due, nil
}

// describeListed is describe for a listed domain: its XML, and the rest from facts
// unless the domain came after the stats call (then as describe asks for it). The
// sizes of its disks outside pools come from the bulk block stats; unsized are those
// they did not give, left at 0 for readDueSizes, after the resync.
func describeListed(ctx context.Context, c *conn, dom libvirt.Domain, f *domainFacts, inPool func(string) bool) (d Domain, unsized []dueDisk, err error) {
	id := UUID(dom.UUID)
	st, ok := f.stats[id]
	if !ok {
		d, err = describe(ctx, c, dom, inPool)
		return d, nil, err
	}
	d, err = callT(ctx, c, fmt.Sprintf("DomainGetXMLDesc %q", dom.Name), func(l *lv) (Domain, error) {
		return readXML(l, dom)
	})
	if err != nil {
		return d, nil, err
	}
	d.Persistent, d.Autostart = f.persistent[id], f.autostart[id]
	d.setState(st.State, st.Reason, dom)
	var known []BlockStats
	if d.State == StateShutoff {
		known = f.sizes[id]
	}
	return d, knownSizes(d.Disks, inPool, known), nil
}

func readXML(l *lv, dom libvirt.Domain) (Domain, error) {
	doc, err := l.DomainGetXMLDesc(dom, 0)
	if err != nil {
		return Domain{}, err
	}
	return ParseDomainXML(doc)
}

// setState sets the state, its reason and the ID (-1 when not running).
func (d *Domain) setState(state DomainState, reason int32, dom libvirt.Domain) {
	d.State, d.Reason = state, reason
	d.ID = -1
	if d.State != StateShutoff && dom.ID > 0 {
		d.ID = dom.ID
	}
}

// describe reads one domain's XML, state, persistence and autostart, and the sizes
// of its file and block disks that are not pool volumes (inPool says which are).
func describe(ctx context.Context, c *conn, dom libvirt.Domain, inPool func(string) bool) (Domain, error) {
	return callT(ctx, c, fmt.Sprintf("describe domain %q", dom.Name), func(l *lv) (Domain, error) {
		d, err := readXML(l, dom)
		if err != nil {
			return Domain{}, err
		}
		state, reason, err := l.DomainGetState(dom, 0)
		if err != nil {
			return Domain{}, err
		}
		persistent, err := l.DomainIsPersistent(dom)
		if err != nil {
			return Domain{}, err
		}
		autostart, err := l.DomainGetAutostart(dom)
		if err != nil {
			return Domain{}, err
		}
		d.Persistent, d.Autostart = persistent == 1, autostart == 1
		d.setState(DomainState(state), reason, dom)
		blockSizes(l, dom, d.Disks, inPool)
		return d, nil
	})
}

// knownSizes fills the sizes of the file and block disks outside pools from known (an
// inactive domain's block stats, matched by target and path) and returns the others.
func knownSizes(disks []Disk, inPool func(string) bool, known []BlockStats) (unsized []dueDisk) {
	for i := range disks {
		dk := &disks[i]
		if (dk.Type != "file" && dk.Type != "block") || dk.Source == "" || inPool(dk.Source) {
			continue
		}
		if j := slices.IndexFunc(known, func(b BlockStats) bool { return b.Name == dk.Target && b.Path == dk.Source }); j >= 0 &&
			(known[j].Capacity != 0 || known[j].Allocation != 0) {
			dk.Capacity, dk.Allocation = known[j].Capacity, known[j].Allocation
			continue
		}
		unsized = append(unsized, dueDisk{dk.Target, dk.Source})
	}
	return unsized
}

// blockSizes fills the sizes of the file and block disks outside pools, one
// DomainGetBlockInfo each (libvirt answers for inactive domains too, from the image).
// A disk libvirt cannot size (a missing ISO, an empty drive) keeps 0.
func blockSizes(l *lv, dom libvirt.Domain, disks []Disk, inPool func(string) bool) {
	for i := range disks {
		dk := &disks[i]
		if (dk.Type != "file" && dk.Type != "block") || dk.Source == "" || inPool(dk.Source) {
			continue
		}
		dev := cmp.Or(dk.Target, dk.Source)
		if alloc, capacity, _, err := l.DomainGetBlockInfo(dom, dev, 0); err == nil {
			dk.Capacity, dk.Allocation = capacity, alloc
		}
	}
}

// refresh re-reads one domain and reports it updated, or removed when libvirt no
// longer knows it (undefined, or transient and stopped).
func (s *Supervisor) refresh(ctx context.Context, c *conn, id UUID) error {
	_, _, err := s.update(ctx, c, id)
	return err
}

// update is refresh that also returns the domain, and found=false once removed.
func (s *Supervisor) update(ctx context.Context, c *conn, id UUID) (d Domain, found bool, err error) {
	if err := s.lockView(ctx); err != nil {
		return d, false, err
	}
	defer s.unlockView()
	return s.reread(ctx, c, id)
}

// reread is update under the view lock.
func (s *Supervisor) reread(ctx context.Context, c *conn, id UUID) (d Domain, found bool, err error) {
	done := s.reading(id)
	dom, err := callT(ctx, c, "DomainLookupByUUID "+id.String(), func(l *lv) (libvirt.Domain, error) {
		return l.DomainLookupByUUID(libvirt.UUID(id))
	})
	if err == nil {
		d, err = describe(ctx, c, dom, s.inPool)
	}
	d, found, err = s.report(id, d, err)
	done(err)
	return d, found, err
}

// patch reads only the fields f of a domain, those an operation changed, with the
// handle the operation used, and reports them (Sink.DomainPatched): the rest of the
// Sink's record stays, and the event that follows the operation re-reads whatever
// else it changed. A state read covers the events marked so far that change only the
// state (dirtySet.addState); the other reads cover none. When the Sink has no record
// of the domain, the whole domain is read.
func (s *Supervisor) patch(ctx context.Context, c *conn, dom libvirt.Domain, f Fields) error {
	id := UUID(dom.UUID)
	return s.patchWith(ctx, c, id, f, func() (Domain, error) {
		return callT(ctx, c, "re-read domain "+id.String(), func(l *lv) (Domain, error) {
			return readFields(l, dom, f, s.inPool)
		})
	})
}

// patchWith is patch with the fields from read: a read of libvirt, or what an
// operation's event announced.
func (s *Supervisor) patchWith(ctx context.Context, c *conn, id UUID, f Fields, read func() (Domain, error)) error {
	if err := s.lockView(ctx); err != nil {
		return err
	}
	defer s.unlockView()
	done := func(error) {}
	if f == FieldState {
		done = s.readingState(id)
	}
	d, err := read()
	if err != nil {
		_, _, err = s.report(id, d, err) // removed when libvirt no longer knows it
		done(err)
		return err
	}
	if f&FieldXML != 0 {
		s.plans.set(&d, true)
		s.sized(id)
	}
	if f&FieldState != 0 && (d.State == StateShutoff || d.State == StateCrashed) {
		s.plans.forgetOS(id) // as a whole re-read would: the next boot answers anew
	}
	var patched bool
	s.emit(func() { patched = s.sink.DomainPatched(s.cfg.Name, d, f) })
	if patched {
		done(nil)
		return nil
	}
	_, _, err = s.reread(ctx, c, id)
	done(err) // the state marks stay until a read covers them
	return err
}

// readFields reads the fields f of dom, one call each: DomainGetState,
// DomainGetInfo (memory), DomainGetAutostart, DomainGetXMLDesc (and the block info of
// the disks outside pools).
func readFields(l *lv, dom libvirt.Domain, f Fields, inPool func(string) bool) (Domain, error) {
	d := Domain{UUID: UUID(dom.UUID), ID: dom.ID}
	if f&FieldXML != 0 {
		x, err := readXML(l, dom)
		if err != nil {
			return d, err
		}
		blockSizes(l, dom, x.Disks, inPool)
		x.UUID, x.ID = d.UUID, d.ID
		d = x
	}
	if f&FieldState != 0 {
		state, reason, err := l.DomainGetState(dom, 0)
		if err != nil {
			return d, err
		}
		d.State, d.Reason = DomainState(state), reason
	}
	if f&FieldMemory != 0 {
		_, maxMem, mem, _, _, err := l.DomainGetInfo(dom)
		if err != nil {
			return d, err
		}
		d.MemoryKiB, d.CurrentMemoryKiB = maxMem, mem
	}
	if f&FieldAutostart != 0 {
		on, err := l.DomainGetAutostart(dom)
		if err != nil {
			return d, err
		}
		d.Autostart = on == 1
	}
	return d, nil
}

// report tells the Sink what describing domain id gave; under the view lock.
func (s *Supervisor) report(id UUID, d Domain, err error) (Domain, bool, error) {
	switch {
	case errors.Is(err, ErrNotFound):
		s.sized(id)
		s.plans.set(&Domain{UUID: id}, false)
		s.emit(func() { s.sink.DomainRemoved(s.cfg.Name, id) })
		return d, false, nil
	case err != nil:
		s.log.Warn("domain not re-read", "uuid", id.String(), "err", err)
		return d, false, err
	}
	s.sized(id)
	s.plans.set(&d, true)
	s.plans.withGuestOS(&d)
	s.emit(func() { s.sink.DomainUpdated(s.cfg.Name, d) })
	return d, true, nil
}

// pollStats makes the one ConnectGetAllDomainStats call for all domains, adds the
// running domains' interface addresses (pollAddresses) and reports it; then it re-reads
// the domains whose guest agent gave a new OS answer, so that their report carries it.
func (s *Supervisor) pollStats(ctx context.Context, c *conn) (*Stats, error) {
	recs, err := callT(ctx, c, "ConnectGetAllDomainStats", func(l *lv) ([]statsRecord, error) {
		// NOWAIT: a domain busy with a job (migration, snapshot) reports what it can
		// instead of holding up every other domain's counters.
		recs, err := c.allDomainStats(l, statsGroups, libvirt.ConnectGetAllDomainsStatsNowait)
		if isLibvirtCode(err, libvirt.ErrInvalidArg) || isLibvirtCode(err, libvirt.ErrNoSupport) {
			return c.allDomainStats(l, statsGroups, 0) // older daemons
		}
		return recs, err
	})
	if err != nil {
		s.log.Warn("stats not read", "err", err)
		return nil, err
	}
	st := packStats(time.Now(), len(recs), func(i int) *DomainStats { return &recs[i].Stats })
	doms := make(map[UUID]libvirt.Domain, len(recs))
	for _, r := range recs {
		doms[r.Stats.UUID] = r.Dom
	}
	reread, err := s.pollAddresses(ctx, c, st, doms)
	if err != nil {
		return nil, err
	}
	s.emit(func() { s.sink.Stats(s.cfg.Name, st) })
	for _, id := range reread {
		if err := s.refresh(ctx, c, id); connLost(err) {
			return st, err
		}
	}
	return st, nil
}
