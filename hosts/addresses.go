package hosts

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/digitalocean/go-libvirt"
)

// guestAgentChannel is the virtio-serial channel name of the QEMU guest agent.
const guestAgentChannel = "org.qemu.guest_agent.0"

// AddrSource is where libvirt learnt an address: its
// VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_* values.
type AddrSource uint8

const (
	AddrLease AddrSource = AddrSource(libvirt.DomainInterfaceAddressesSrcLease) // DHCP lease of a libvirt network
	AddrAgent AddrSource = AddrSource(libvirt.DomainInterfaceAddressesSrcAgent) // QEMU guest agent
	AddrARP   AddrSource = AddrSource(libvirt.DomainInterfaceAddressesSrcArp)   // the host's ARP table
)

// IfaceAddr is one IP address of a domain interface.
type IfaceAddr struct {
	MAC    string // lowercase aa:bb:cc:dd:ee:ff, the NIC's key
	Addr   netip.Addr
	Prefix uint32
	Source AddrSource // last: 48 bytes, not 56 (which one address rounds up to 64)
}

// addrPlan is what decides how a domain's addresses are asked for: its NICs' MACs,
// whether one is on a libvirt network (leases), whether it has a guest agent (which is
// also asked for the guest's OS). The same rounds check the sizes of its disks outside
// pools (sized).
type addrPlan struct {
	nics  []planNIC
	sized []sizedDisk // file and block disks outside pools, with the sizes last read
	gen   uint64      // tells this plan from a later one of the same domain (markDead)
	agent bool
}

// planNIC is a NIC of a plan: its MAC (the parsed domain's string, which the view
// keeps too) and its libvirt network, the zero handle when on none (no DHCP leases).
// The handle keeps one copy of a network's name for all the plans that hold it.
type planNIC struct {
	mac string
	net unique.Handle[string]
}

// onNet reports whether the NIC is on a libvirt network.
func (n planNIC) onNet() bool { return n.net != unique.Handle[string]{} }

// onNet reports whether one of p's NICs is on a libvirt network.
func (p *addrPlan) onNet() bool { return slices.ContainsFunc(p.nics, planNIC.onNet) }

// sizedDisk is what a round needs of a disk outside pools: its target and the sizes
// last read (a whole Disk, 152 bytes, was held per such disk).
type sizedDisk struct {
	target               string
	capacity, allocation uint64
}

// diskWrites is the bytes a domain had written to one disk target of plan.sized.
type diskWrites struct {
	target string
	bytes  uint64
}

func planOf(d *Domain) (addrPlan, bool) {
	p := addrPlan{agent: d.GuestAgent}
	if len(d.NICs) > 0 {
		p.nics = make([]planNIC, 0, len(d.NICs))
	}
	for _, n := range d.NICs {
		pn := planNIC{mac: n.MAC}
		if n.Type == "network" {
			pn.net = unique.Make(n.Source)
		}
		p.nics = append(p.nics, pn)
	}
	for _, dk := range d.Disks {
		if dk.Target != "" && (dk.Capacity != 0 || dk.Allocation != 0) { // sized by blockSizes
			p.sized = append(p.sized, sizedDisk{dk.Target, dk.Capacity, dk.Allocation})
		}
	}
	return p, len(p.nics) > 0 || p.agent || len(p.sized) > 0
}

// addrPlans holds, per domain of a host that has NICs, a guest agent or disks sized
// here, its plan (resyncs replace them, re-reads update one), the addresses last read
// and the guest agent's last OS answer. Addresses change seldom, so they are read again
// every address_interval, and at the next stats round for a domain that was re-read
// (started, NICs changed...); rounds in between reuse the last ones. The agent's OS is
// read in the same rounds, right after the addresses.
type addrPlans struct {
	mu sync.Mutex
	m  map[UUID]*addrDomain
	at time.Time // when every domain was last read; zero: at the next round
	// dead holds, per domain, the sources that failed for it with an error that lasts
	// (srcFailure): they are not asked again until the domain is re-read or resynced,
	// or the mark is older than deadSourceRounds address rounds. Few domains have one.
	dead map[UUID]deadMark
	gens uint64 // the last plan's gen
}

// addrDomain is what the address rounds hold for one domain: one map entry per domain
// instead of one in each of five maps.
type addrDomain struct {
	plan addrPlan
	last []IfaceAddr // the addresses last read
	// wr is, per disk target of plan.sized, the bytes the domain had written at the
	// last round (nil: no round since the plan was made or sized): a disk written since
	// can have grown. A re-read keeps it: what was written after that round, while the
	// sizes were read again or later, shows as another change at the next round.
	wr  []diskWrites
	os  *GuestOS // the agent's last OS answer, while the domain runs
	due bool     // read at the next round
}

// deadMark is the sources marked dead for a domain, and since when.
type deadMark struct {
	set srcSet
	at  time.Time
}

// deadSourceRounds is how many address intervals a source that failed for good for a
// domain is left alone: what cured it (a network defined again) sends no domain event.
const deadSourceRounds = 10

// srcSet is a set of AddrSources, one bit each.
type srcSet uint8

func (m srcSet) has(src AddrSource) bool { return m&(1<<src) != 0 }

// reset replaces every plan (a resync): the addresses and writes last read go, the
// agents' OS answers stay.
func (a *addrPlans) reset(doms []Domain) {
	m := make(map[UUID]*addrDomain, len(doms))
	a.mu.Lock()
	for i := range doms {
		if p, ok := planOf(&doms[i]); ok {
			a.gens++
			p.gen = a.gens
			x := &addrDomain{plan: p}
			if old := a.m[doms[i].UUID]; old != nil {
				x.os = old.os
			}
			m[doms[i].UUID] = x
		}
	}
	a.m, a.at, a.dead = m, time.Time{}, nil // a resync read every size
	a.mu.Unlock()
}

func (a *addrPlans) set(d *Domain, found bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.dead, d.UUID) // a re-read domain may have new NICs, networks, an agent
	p, ok := planOf(d)
	if !ok || !found {
		delete(a.m, d.UUID)
		return
	}
	if a.m == nil {
		a.m = map[UUID]*addrDomain{}
	}
	a.gens++
	p.gen = a.gens
	x := a.m[d.UUID]
	if x == nil {
		x = &addrDomain{}
		a.m[d.UUID] = x
	}
	x.plan, x.due = p, true
}

// addSized adds disks, sized after the resync (readDueSizes), to id's plan: the
// rounds size them again once written to.
func (a *addrPlans) addSized(id UUID, disks []Disk) {
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.m[id]
	var p addrPlan
	if x != nil {
		p = x.plan
	}
	p.sized = slices.Clone(p.sized)
	for _, dk := range disks {
		if dk.Capacity == 0 && dk.Allocation == 0 {
			continue
		}
		sd := sizedDisk{dk.Target, dk.Capacity, dk.Allocation}
		if j := slices.IndexFunc(p.sized, func(x sizedDisk) bool { return x.target == dk.Target }); j >= 0 {
			p.sized[j] = sd // sized by lastSizes for the resync, read again
		} else {
			p.sized = append(p.sized, sd)
		}
	}
	if len(p.sized) == 0 || a.m == nil {
		return
	}
	if x == nil {
		a.gens++
		p.gen = a.gens
		x = &addrDomain{}
		a.m[id] = x
	}
	x.plan = p
	x.wr = nil // the next round records what was written, as after a resync
}

// forgetOS drops the guest agent's last OS answer for id (the domain stopped).
func (a *addrPlans) forgetOS(id UUID) {
	a.mu.Lock()
	if x := a.m[id]; x != nil {
		x.os = nil
	}
	a.mu.Unlock()
}

// written returns the disks of p.sized that ds shows written since the last round, and
// records what ds shows. The first round of a domain (after a connect or a resync)
// only records: its sizes were just read.
func (a *addrPlans) written(id UUID, p addrPlan, ds *DomainStats) []sizedDisk {
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.m[id]
	if x == nil {
		return nil // removed meanwhile
	}
	last, seen := x.wr, x.wr != nil
	now := make([]diskWrites, 0, len(p.sized)) // not nil, even empty: seen next round
	var out []sizedDisk
	for _, dk := range p.sized {
		for i := range ds.Blocks {
			if b := &ds.Blocks[i]; b.Name == dk.target {
				now = append(now, diskWrites{dk.target, b.WrBytes})
				i := slices.IndexFunc(last, func(w diskWrites) bool { return w.target == dk.target })
				if seen && (i < 0 || last[i].bytes != b.WrBytes) {
					out = append(out, dk)
				}
			}
		}
	}
	x.wr = now
	return out
}

// plan returns how to read id's addresses, and whether to read them this round (else
// the last ones are reused).
func (a *addrPlans) plan(id UUID, full bool) (p addrPlan, read bool, last []IfaceAddr, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.m[id]
	if x == nil {
		return addrPlan{}, full, nil, false
	}
	return x.plan, full || x.due, x.last, true
}

// deadSources returns the sources not to ask for id (markDead): those marked after
// since.
func (a *addrPlans) deadSources(id UUID, since time.Time) srcSet {
	a.mu.Lock()
	defer a.mu.Unlock()
	d, ok := a.dead[id]
	if ok && d.at.Before(since) {
		delete(a.dead, id)
		return 0
	}
	return d.set
}

// markDead stops asking src for id until the domain is re-read (set) or resynced, or
// for deadSourceRounds address intervals; not when the plan read (gen) was replaced
// meanwhile: the re-read that replaced it may have cured the failure.
func (a *addrPlans) markDead(id UUID, src AddrSource, gen uint64, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if x := a.m[id]; x == nil || x.plan.gen != gen {
		return // removed or re-read meanwhile
	}
	if a.dead == nil {
		a.dead = map[UUID]deadMark{}
	}
	d := a.dead[id]
	if d.set == 0 {
		d.at = now
	}
	d.set |= 1 << src
	a.dead[id] = d
}

// store keeps the addresses a round read with plan gen; the domain stays due when it
// was re-read meanwhile (a newer plan: new NICs are read at the next round).
func (a *addrPlans) store(id UUID, gen uint64, addrs []IfaceAddr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if x := a.m[id]; x != nil { // else removed meanwhile
		x.last = addrs
		x.due = x.due && x.plan.gen != gen
	}
}

// round says whether this stats round reads every domain's addresses (the last full
// read is older than every), and if so starts it.
func (a *addrPlans) round(every time.Duration, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.at.IsZero() && now.Sub(a.at) < every {
		return false
	}
	a.at = now
	return true
}

// pollAddresses adds the addresses of the running domains with NICs to st: read again
// (see addrPlans) with at most one call per source (agent, lease, arp) and domain: the
// agent when the domain has one, leases when a NIC is on a libvirt network, the ARP
// table for the NICs still without an address; a source that fails is skipped (logged
// at debug level). Otherwise the addresses last read. In the same rounds, a domain with
// a guest agent is asked for its OS (readGuestOS), and the disks outside pools that the
// domain wrote to since the last round are sized (sizesChanged); reread lists the
// domains whose OS answer or disk sizes changed, to be re-read and reported with them.
// The domains to read are read several at a time (inFlight), each one's calls in turn.
func (s *Supervisor) pollAddresses(ctx context.Context, c *conn, st *Stats, doms map[UUID]libvirt.Domain) (reread []UUID, err error) {
	// The first round after a resync waits while other hosts still resync (SyncGate).
	full := !s.held(st.At) && s.plans.round(s.cfg.AddressInterval, st.At)
	var leases *roundLeases // a round of every domain reads each network's leases once
	if full {
		leases = &roundLeases{}
	}
	type addrRead struct {
		ds      *DomainStats // in st
		p       addrPlan
		addrs   []IfaceAddr
		changed bool
	}
	var reads []addrRead
	for i := range st.domains {
		ds := &st.domains[i]
		if ds.State != StateRunning && ds.State != StateBlocked && ds.State != StatePaused {
			continue
		}
		p, read, addrs, ok := s.plans.plan(ds.UUID, full)
		if !ok {
			continue
		}
		if read {
			reads = append(reads, addrRead{ds: ds, p: p})
			continue
		}
		ds.Addrs = addrs
	}
	err = inFlight(len(reads), addrReadsInFlight, func(i int) error {
		r := &reads[i]
		id := r.ds.UUID // no writes to st until every read is done
		var agentDown bool
		var err error
		if r.addrs, agentDown, err = s.domainAddresses(ctx, c, id, doms[id], r.p, leases); err != nil {
			return err
		}
		s.plans.store(id, r.p.gen, r.addrs)
		if r.p.agent && !agentDown {
			if r.changed, err = s.readGuestOS(ctx, c, id, doms[id]); err != nil {
				return err
			}
		}
		grown, err := s.sizesChanged(ctx, c, doms[id], s.plans.written(id, r.p, r.ds))
		r.changed = r.changed || grown
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, r := range reads {
		r.ds.Addrs = r.addrs
		if r.changed {
			reread = append(reread, r.ds.UUID)
		}
	}
	return reread, nil
}

// sizesChanged reads the sizes of disks (DomainGetBlockInfo, one call each) and says
// whether one differs from what the domain's last read found: then the domain is
// re-read, and its report carries the new sizes. A failure is logged at debug level
// and changes nothing; only a lost connection is returned.
func (s *Supervisor) sizesChanged(ctx context.Context, c *conn, dom libvirt.Domain, disks []sizedDisk) (bool, error) {
	for _, dk := range disks {
		got, ok, err := s.blockInfo(ctx, c, dom, dk.target)
		if err != nil {
			return false, err
		}
		if !ok {
			continue
		}
		if got.Allocation != dk.allocation || got.Capacity != dk.capacity {
			return true, nil
		}
	}
	return false, nil
}

// srcFailure is how long a source's failure for a domain lasts.
type srcFailure int

const (
	failTransient srcFailure = iota // asked again at the next address round
	failDomain                      // not asked for this domain until it is re-read
	failHost                        // not asked for any domain until a reconnect
)

// addrFailure classifies a failed DomainInterfaceAddresses call of source src. Only
// errors that nothing but a change of the domain or the host cures stop the asking:
// a function or source the driver lacks (the test driver has no ARP table of its own
// either, libvirt 9.0 cannot parse the kernel's: "internal error" for ARP), a network
// that does not exist, an agent that is not configured. An unresponsive agent, a
// timeout, a domain stopped meanwhile are asked again.
func addrFailure(src AddrSource, err error) srcFailure {
	switch {
	case isLibvirtCode(err, libvirt.ErrNoSupport): // VIR_ERR_NO_SUPPORT: the driver lacks it
		return failHost
	case src == AddrARP && isLibvirtCode(err, libvirt.ErrInternalError):
		return failHost
	case isLibvirtCode(err, libvirt.ErrNoNetwork), // VIR_ERR_NO_NETWORK: the NIC's network is undefined
		isLibvirtCode(err, libvirt.ErrArgumentUnsupported),  // e.g. "QEMU guest agent is not configured"
		isLibvirtCode(err, libvirt.ErrOperationUnsupported), // the source for this kind of NIC
		isLibvirtCode(err, libvirt.ErrConfigUnsupported):
		return failDomain
	}
	return failTransient
}

// srcBulkLeases is the bit of conn.lacks for NetworkGetDhcpLeases (the test driver
// lacks it).
const srcBulkLeases AddrSource = 3

// roundLeases holds the DHCP leases of the host's libvirt networks for one address
// round, read once per network (NetworkGetDhcpLeases), by MAC; a network whose
// leases could not be read maps to nil, and its NICs are asked one domain at a time.
type roundLeases struct {
	mu   sync.Mutex // the round's domains are read concurrently (inFlight)
	nets map[string]map[string][]IfaceAddr
}

// networkLeases returns the leases of network name, read at its first use in the round;
// ok is false when they cannot be read in bulk. Only a lost connection is an error.
func (s *Supervisor) networkLeases(ctx context.Context, c *conn, r *roundLeases, name string) (byMAC map[string][]IfaceAddr, ok bool, err error) {
	if r == nil || srcSet(c.lacks.Load()).has(srcBulkLeases) {
		return nil, false, nil
	}
	r.mu.Lock() // held over the read: the other domains on the network wait for it
	defer r.mu.Unlock()
	if srcSet(c.lacks.Load()).has(srcBulkLeases) { // learnt by the read this one waited for
		return nil, false, nil
	}
	if byMAC, seen := r.nets[name]; seen {
		return byMAC, byMAC != nil, nil
	}
	if r.nets == nil {
		r.nets = map[string]map[string][]IfaceAddr{}
	}
	r.nets[name] = nil
	leases, err := callT(ctx, c, "NetworkGetDhcpLeases "+strconv.Quote(name), func(l *lv) ([]libvirt.NetworkDhcpLease, error) {
		n, err := l.NetworkLookupByName(name)
		if err != nil {
			return nil, err
		}
		leases, _, err := l.NetworkGetDhcpLeases(n, nil, 1, 0)
		return leases, err
	})
	if connLost(err) || ctx.Err() != nil {
		return nil, false, err
	}
	if isLibvirtCode(err, libvirt.ErrNoNetwork) && c.bulkLeases.Load() {
		// No such network: its NICs have no leases. Asked again next round, so a
		// network defined again shows its leases without a domain event.
		r.nets[name] = map[string][]IfaceAddr{}
		return r.nets[name], true, nil
	}
	if err != nil {
		if isLibvirtCode(err, libvirt.ErrNoSupport) && c.lack(srcBulkLeases) {
			s.log.Debug("no DHCP leases per network: asked per domain", "err", err)
		} else {
			s.log.Debug("DHCP leases of a network not read: asked per domain", "network", name, "err", err)
		}
		return nil, false, nil
	}
	c.bulkLeases.Store(true)
	ifs := make([]libvirt.DomainInterface, 0, len(leases))
	for _, l := range leases {
		ifs = append(ifs, libvirt.DomainInterface{Hwaddr: l.Mac,
			Addrs: []libvirt.DomainIPAddr{{Type: l.Type, Addr: l.Ipaddr, Prefix: l.Prefix}}})
	}
	byMAC = map[string][]IfaceAddr{}
	for _, a := range ParseIfaceAddrs(ifs, AddrLease) {
		byMAC[a.MAC] = append(byMAC[a.MAC], a)
	}
	r.nets[name] = byMAC
	return byMAC, true, nil
}

// bulkLeases returns the leases of the domain's NICs on libvirt networks from the
// round's per-network reads, in the order of its NICs (as libvirt's per-domain lease
// query gives them); ok is false when one of its networks was not read in bulk.
func (s *Supervisor) bulkLeases(ctx context.Context, c *conn, r *roundLeases, p addrPlan) (out []IfaceAddr, ok bool, err error) {
	for _, n := range p.nics {
		if !n.onNet() {
			continue
		}
		byMAC, ok, err := s.networkLeases(ctx, c, r, n.net.Value())
		if !ok || err != nil {
			return nil, false, err
		}
		out = append(out, byMAC[strings.ToLower(n.mac)]...)
	}
	return ownAddrs(out, p.nics), true, nil // a guest can hold many leases on its MAC
}

// domainAddresses reads one domain's addresses; agentDown says libvirt found its guest
// agent unresponsive (not connected: no agent runs in the guest yet; or hung), so that
// the round does not wait for it a second time for the OS. A source that failed for
// good (addrFailure) is not asked again: for this domain until it is re-read, or on
// this connection at all. Leases come from the round's per-network reads (leases,
// nil: none) where they could be made.
func (s *Supervisor) domainAddresses(ctx context.Context, c *conn, id UUID, dom libvirt.Domain, p addrPlan, leases *roundLeases) (out []IfaceAddr, agentDown bool, err error) {
	if len(p.nics) == 0 {
		return nil, false, nil // planned for its agent's OS only
	}
	now := time.Now()
	skip := s.plans.deadSources(id, now.Add(-deadSourceRounds*s.cfg.AddressInterval)) | srcSet(c.lacks.Load())
	var sources []AddrSource
	if p.agent && !skip.has(AddrAgent) {
		sources = append(sources, AddrAgent)
	}
	if p.onNet() && !skip.has(AddrLease) {
		sources = append(sources, AddrLease)
	}
	if !skip.has(AddrARP) {
		sources = append(sources, AddrARP)
	}
	covered := map[string]bool{}
	for _, src := range sources {
		if src == AddrLease {
			got, ok, err := s.bulkLeases(ctx, c, leases, p)
			if err != nil {
				return nil, false, err
			}
			if ok {
				out = coverAddrs(out, got, covered)
				if len(covered) >= len(p.nics) {
					break
				}
				continue
			}
		}
		ifs, err := callT(ctx, c, fmt.Sprintf("DomainInterfaceAddresses %q source %d", dom.Name, src),
			func(l *lv) ([]libvirt.DomainInterface, error) {
				return l.DomainInterfaceAddresses(dom, uint32(src), 0)
			})
		if connLost(err) || ctx.Err() != nil {
			return nil, false, err
		}
		if err != nil {
			agentDown = agentDown || (src == AddrAgent && isLibvirtCode(err, libvirt.ErrAgentUnresponsive))
			switch addrFailure(src, err) {
			case failHost:
				switch {
				case !c.lack(src):
				case src == AddrARP:
					s.log.Warn("the hypervisor's libvirtd cannot read its ARP table: no addresses from ARP "+
						"until it reconnects (guest agent and DHCP leases still apply)", "err", err)
				default:
					s.log.Warn("the hypervisor's libvirtd cannot give interface addresses from this source: "+
						"not asked again until it reconnects (other sources still apply)", "source", src.String(), "err", err)
				}
			case failDomain:
				s.plans.markDead(id, src, p.gen, now)
			}
			s.log.Debug("interface addresses not read", "domain", dom.Name, "source", int(src), "err", err)
			continue
		}
		out = coverAddrs(out, ownAddrs(ParseIfaceAddrs(ifs, src), p.nics), covered)
		if len(covered) >= len(p.nics) {
			break
		}
	}
	return slices.Clip(out), agentDown, nil // kept until the next round
}

// coverAddrs appends to out the addresses of got whose NIC no earlier source covered,
// and marks those NICs covered.
func coverAddrs(out, got []IfaceAddr, covered map[string]bool) []IfaceAddr {
	seen := map[string]bool{}
	for _, a := range got {
		if !covered[a.MAC] {
			out = append(out, a)
			seen[a.MAC] = true
		}
	}
	for mac := range seen {
		covered[mac] = true
	}
	return out
}

func (src AddrSource) String() string {
	switch src {
	case AddrLease:
		return "lease"
	case AddrAgent:
		return "agent"
	case AddrARP:
		return "arp"
	}
	return fmt.Sprint(int(src))
}

// maxAddrsPerNIC bounds the addresses kept for one NIC from one source. A guest agent
// reports what the guest says (up to libvirt's 2,048 interfaces of 2,048 addresses);
// a real NIC carries a handful, a few dozen with IPv6 temporary addresses.
const maxAddrsPerNIC = 64

// ownAddrs keeps the addresses of the domain's own NICs (nics), at most
// maxAddrsPerNIC each, so that a hostile guest can neither invent interfaces nor make
// a walk of networkAddressTable (quadratic in a NIC's addresses) slow. The addresses
// kept carry the plan's MAC strings, not the reply's: those would keep the decoded
// reply's strings alive until the next address round.
func ownAddrs(addrs []IfaceAddr, nics []planNIC) []IfaceAddr {
	type own struct {
		mac string
		n   int
	}
	n := make(map[string]*own, len(nics))
	for _, nic := range nics {
		m := strings.ToLower(nic.mac)
		n[m] = &own{mac: m}
	}
	out := addrs[:0]
	for _, a := range addrs {
		if o, ok := n[a.MAC]; ok && o.n < maxAddrsPerNIC {
			o.n++
			a.MAC = o.mac
			out = append(out, a)
		}
	}
	return out
}

// ParseIfaceAddrs turns libvirt's interface list into addresses in libvirt's order;
// interfaces without a MAC and unparsable addresses are skipped.
func ParseIfaceAddrs(ifs []libvirt.DomainInterface, src AddrSource) []IfaceAddr {
	var out []IfaceAddr
	for _, ifc := range ifs {
		if len(ifc.Hwaddr) == 0 || ifc.Hwaddr[0] == "" {
			continue
		}
		mac := strings.ToLower(ifc.Hwaddr[0])
		for _, a := range ifc.Addrs {
			ip, err := netip.ParseAddr(a.Addr)
			if err != nil {
				continue
			}
			ip = ip.WithZone("")
			switch {
			case a.Type == int32(libvirt.IPAddrTypeIpv4) && ip.Is4(), a.Type == int32(libvirt.IPAddrTypeIpv6) && ip.Is6() && !ip.Is4In6():
			default:
				continue
			}
			bits := uint32(ip.BitLen())
			out = append(out, IfaceAddr{MAC: mac, Source: src, Addr: ip, Prefix: min(a.Prefix, bits)})
		}
	}
	return out
}
