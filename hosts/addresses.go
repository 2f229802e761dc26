package hosts

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/digitalocean/go-libvirt"
)

// guestAgentChannel is the virtio-serial channel name of the QEMU guest agent.
const guestAgentChannel = "org.qemu.guest_agent.0"

// AddrSource is where libvirt learnt an address: its
// VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_* values.
type AddrSource int

const (
	AddrLease AddrSource = AddrSource(libvirt.DomainInterfaceAddressesSrcLease) // DHCP lease of a libvirt network
	AddrAgent AddrSource = AddrSource(libvirt.DomainInterfaceAddressesSrcAgent) // QEMU guest agent
	AddrARP   AddrSource = AddrSource(libvirt.DomainInterfaceAddressesSrcArp)   // the host's ARP table
)

// IfaceAddr is one IP address of a domain interface.
type IfaceAddr struct {
	MAC    string // lowercase aa:bb:cc:dd:ee:ff, the NIC's key
	Source AddrSource
	Addr   netip.Addr
	Prefix uint32
}

// addrPlan is what decides how a domain's addresses are asked for: its NICs' MACs,
// whether one is on a libvirt network (leases), whether it has a guest agent.
type addrPlan struct {
	macs    []string
	network bool
	agent   bool
}

func planOf(d *Domain) (addrPlan, bool) {
	p := addrPlan{agent: d.GuestAgent}
	for _, n := range d.NICs {
		p.macs = append(p.macs, n.MAC)
		p.network = p.network || n.Type == "network"
	}
	return p, len(p.macs) > 0
}

// addrPlans holds the plans of a host's domains that have NICs; resyncs replace them,
// re-reads update one.
type addrPlans struct {
	mu sync.Mutex
	m  map[UUID]addrPlan
}

func (a *addrPlans) reset(doms []Domain) {
	m := make(map[UUID]addrPlan, len(doms))
	for i := range doms {
		if p, ok := planOf(&doms[i]); ok {
			m[doms[i].UUID] = p
		}
	}
	a.mu.Lock()
	a.m = m
	a.mu.Unlock()
}

func (a *addrPlans) set(d *Domain, found bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[UUID]addrPlan{}
	}
	if p, ok := planOf(d); ok && found {
		a.m[d.UUID] = p
	} else {
		delete(a.m, d.UUID)
	}
}

func (a *addrPlans) get(id UUID) (addrPlan, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.m[id]
	return p, ok
}

// pollAddresses adds the addresses of the running domains with NICs to st, at most
// one call per source (agent, lease, arp) and domain: the agent when the domain has
// one, leases when a NIC is on a libvirt network, the ARP table for the NICs still
// without an address. A source that fails is skipped (logged at debug level).
func (s *Supervisor) pollAddresses(ctx context.Context, c *conn, st *Stats, doms map[UUID]libvirt.Domain) error {
	for id, ds := range st.Domains {
		if ds.State != StateRunning && ds.State != StateBlocked && ds.State != StatePaused {
			continue
		}
		p, ok := s.plans.get(id)
		if !ok {
			continue
		}
		addrs, err := s.domainAddresses(ctx, c, doms[id], p)
		if err != nil {
			return err
		}
		ds.Addrs = addrs
		st.Domains[id] = ds
	}
	return nil
}

func (s *Supervisor) domainAddresses(ctx context.Context, c *conn, dom libvirt.Domain, p addrPlan) ([]IfaceAddr, error) {
	var sources []AddrSource
	if p.agent {
		sources = append(sources, AddrAgent)
	}
	if p.network {
		sources = append(sources, AddrLease)
	}
	sources = append(sources, AddrARP)
	var out []IfaceAddr
	covered := map[string]bool{}
	for _, src := range sources {
		ifs, err := callT(ctx, c, fmt.Sprintf("DomainInterfaceAddresses %q source %d", dom.Name, src),
			func(l *lv) ([]libvirt.DomainInterface, error) {
				return l.DomainInterfaceAddresses(dom, uint32(src), 0)
			})
		if connLost(err) || ctx.Err() != nil {
			return nil, err
		}
		if err != nil {
			s.log.Debug("interface addresses not read", "domain", dom.Name, "source", int(src), "err", err)
			continue
		}
		got := ParseIfaceAddrs(ifs, src)
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
		if len(covered) >= len(p.macs) {
			break
		}
	}
	return out, nil
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
