package hosts

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unique"
	"unsafe"

	"github.com/digitalocean/go-libvirt"
)

func TestParseIfaceAddrs(t *testing.T) {
	v4, v6 := int32(libvirt.IPAddrTypeIpv4), int32(libvirt.IPAddrTypeIpv6)
	tests := []struct {
		name string
		ifs  []libvirt.DomainInterface
		want []IfaceAddr
	}{
		{name: "none"},
		{name: "lease: v4 and v6 in libvirt's order, MAC lowercased", ifs: []libvirt.DomainInterface{
			{Name: "vnet0", Hwaddr: libvirt.OptString{"52:54:00:AA:BB:01"}, Addrs: []libvirt.DomainIPAddr{
				{Type: v4, Addr: "192.168.122.3", Prefix: 24}, {Type: v6, Addr: "fe80::5054:ff:feaa:bb01", Prefix: 64}}},
			{Name: "vnet1", Hwaddr: libvirt.OptString{"52:54:00:aa:bb:02"}, Addrs: []libvirt.DomainIPAddr{
				{Type: v4, Addr: "10.0.0.9", Prefix: 8}}},
		}, want: []IfaceAddr{
			{MAC: "52:54:00:aa:bb:01", Addr: netip.MustParseAddr("192.168.122.3"), Prefix: 24},
			{MAC: "52:54:00:aa:bb:01", Addr: netip.MustParseAddr("fe80::5054:ff:feaa:bb01"), Prefix: 64},
			{MAC: "52:54:00:aa:bb:02", Addr: netip.MustParseAddr("10.0.0.9"), Prefix: 8},
		}},
		{name: "odd input skipped", ifs: []libvirt.DomainInterface{
			{Name: "lo"}, // no MAC (agent's loopback)
			{Name: "eth0", Hwaddr: libvirt.OptString{"52:54:00:aa:bb:03"}, Addrs: []libvirt.DomainIPAddr{
				{Type: v4, Addr: "not-an-ip", Prefix: 24},
				{Type: v4, Addr: "fe80::1", Prefix: 64},       // type says v4
				{Type: 7, Addr: "10.1.1.1", Prefix: 8},        // unknown type
				{Type: v6, Addr: "fe80::1%eth0", Prefix: 200}, // zone dropped, prefix capped
			}},
		}, want: []IfaceAddr{{MAC: "52:54:00:aa:bb:03", Addr: netip.MustParseAddr("fe80::1"), Prefix: 128}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseIfaceAddrs(tt.ifs, AddrLease)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestPlanOf(t *testing.T) {
	d, err := ParseDomainXML(`<domain type="kvm"><name>a</name><uuid>0e2e0000-0000-4000-8000-0000000000f1</uuid>
<devices>
<interface type="bridge"><mac address="52:54:00:00:00:01"/><source bridge="br0"/></interface>
<interface type="network"><mac address="52:54:00:00:00:02"/><source network="default"/></interface>
<channel type="unix"><target type="virtio" name="org.qemu.guest_agent.0"/></channel>
</devices></domain>`)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := planOf(&d)
	want := addrPlan{nics: []planNIC{{mac: "52:54:00:00:00:01"}, {mac: "52:54:00:00:00:02", net: unique.Make("default")}}, agent: true}
	if !ok || !reflect.DeepEqual(p, want) {
		t.Errorf("plan %+v %v, want %+v", p, ok, want)
	}
	if _, ok := planOf(&Domain{}); ok {
		t.Errorf("a domain without NICs has a plan")
	}
}

// TestAddrPlansRounds: a domain's addresses are read at the first round, reused until
// address_interval has passed, and read again at the next round after the domain was
// re-read (set); a removed domain has none.
func TestAddrPlansRounds(t *testing.T) {
	id := UUID{1}
	d := Domain{UUID: id, NICs: []NIC{{MAC: "52:54:00:00:00:01"}}}
	var a addrPlans
	a.reset([]Domain{d})
	t0 := time.Unix(1000, 0)
	addr := []IfaceAddr{{MAC: "52:54:00:00:00:01", Addr: netip.MustParseAddr("192.0.2.7"), Prefix: 24}}
	step := func(name string, now time.Time, wantRead bool, wantLast []IfaceAddr) {
		t.Helper()
		full := a.round(time.Minute, now)
		p, read, last, ok := a.plan(id, full)
		if !ok || read != wantRead || len(last) != len(wantLast) {
			t.Fatalf("%s: ok=%v read=%v last=%v, want read=%v last=%v", name, ok, read, last, wantRead, wantLast)
		}
		if read {
			a.store(id, p.gen, addr)
		}
	}
	step("first round", t0, true, nil)
	step("next round", t0.Add(10*time.Second), false, addr)
	a.set(&d, true) // an event re-read the domain
	step("after a re-read", t0.Add(20*time.Second), true, addr)
	step("round after that", t0.Add(30*time.Second), false, addr)
	step("interval passed", t0.Add(61*time.Second), true, addr)
	a.set(&d, false)
	if _, _, last, ok := a.plan(id, false); ok || last != nil {
		t.Fatalf("removed domain: ok=%v last=%v", ok, last)
	}
}

// TestRereadDuringRoundStaysDue: a domain re-read (set: a NIC added) while a round
// reads it with the plan it had before stays due: the round's addresses, read with the
// old plan, must not clear the flag, else the new NIC has no address until the next
// full round (address_interval).
func TestRereadDuringRoundStaysDue(t *testing.T) {
	id := UUID{1}
	d := Domain{UUID: id, NICs: []NIC{{MAC: "52:54:00:00:00:01", Type: "network", Source: "default"}}}
	var a addrPlans
	a.reset([]Domain{d})
	p, read, _, ok := a.plan(id, a.round(time.Minute, time.Unix(1000, 0)))
	if !ok || !read {
		t.Fatalf("first round: ok=%v read=%v", ok, read)
	}
	d2 := d
	d2.NICs = append(slices.Clone(d.NICs), NIC{MAC: "52:54:00:00:00:02", Type: "network", Source: "default"})
	a.set(&d2, true) // Refresh, from another goroutine, while the round reads
	a.store(id, p.gen, []IfaceAddr{{MAC: p.nics[0].mac, Addr: netip.MustParseAddr("192.0.2.7"), Prefix: 24}})
	q, read, _, _ := a.plan(id, a.round(time.Minute, time.Unix(1010, 0)))
	if !read || len(q.nics) != 2 {
		t.Errorf("next round: read=%v with %d NICs, want the re-read domain read with 2", read, len(q.nics))
	}
}

// TestSizedDisksWritten: a domain's disks outside pools (sized at its read) are in its
// plan; a round reports those written since the previous round, never at the domain's
// first round, nor a disk that was not written.
func TestSizedDisksWritten(t *testing.T) {
	id := UUID{3}
	d := Domain{UUID: id, Disks: []Disk{
		{Type: "file", Target: "vda", Source: "/srv/a.qcow2", Capacity: 1 << 30, Allocation: 1 << 20},
		{Type: "file", Target: "vdb", Source: "/srv/b.raw", Capacity: 1 << 30, Allocation: 1 << 20},
		{Type: "volume", Target: "vdc", Pool: "p", Volume: "c"}, // a pool's volume: not sized here
	}}
	p, ok := planOf(&d)
	if !ok || len(p.sized) != 2 || p.sized[0].target != "vda" || p.sized[1].target != "vdb" || p.sized[0].capacity != 1<<30 || p.sized[0].allocation != 1<<20 {
		t.Fatalf("plan %+v %v: want vda and vdb sized", p, ok)
	}
	stats := func(vda, vdb uint64) *DomainStats {
		return &DomainStats{Blocks: []BlockStats{{Name: "vda", WrBytes: vda}, {Name: "vdb", WrBytes: vdb}, {Name: "vdc", WrBytes: 9}}}
	}
	var a addrPlans
	a.set(&d, true)
	if got := a.written(id, p, stats(10, 20)); len(got) != 0 {
		t.Errorf("first round after the read: %v", got)
	}
	if got := a.written(id, p, stats(10, 20)); len(got) != 0 {
		t.Errorf("nothing written: %v", got)
	}
	if got := a.written(id, p, stats(15, 20)); len(got) != 1 || got[0].target != "vda" {
		t.Errorf("vda written: %v", got)
	}
	// A re-read (after the round that saw vda written) keeps the record: what was
	// written since, during or after that read, shows at the next round.
	a.set(&d, true)
	if got := a.written(id, p, stats(20, 20)); len(got) != 1 || got[0].target != "vda" {
		t.Errorf("vda written again around the re-read: %v", got)
	}
	if got := a.written(id, p, stats(20, 20)); len(got) != 0 {
		t.Errorf("nothing written since: %v", got)
	}
	a.set(&d, false) // removed
	a.reset(nil)
	a.set(&d, true)
	if got := a.written(id, p, stats(99, 99)); len(got) != 0 {
		t.Errorf("first round after the domain came back: %v", got)
	}
}

// TestOwnAddrs: a guest agent's answer keeps the domain's own NICs only, and at most
// maxAddrsPerNIC addresses each.
func TestOwnAddrs(t *testing.T) {
	var ifs []libvirt.DomainInterface
	for i := range 3 {
		ifc := libvirt.DomainInterface{Name: fmt.Sprint("eth", i), Hwaddr: []string{fmt.Sprintf("52:54:00:00:00:0%d", i)}}
		for j := range 1000 {
			ifc.Addrs = append(ifc.Addrs, libvirt.DomainIPAddr{Type: int32(libvirt.IPAddrTypeIpv4),
				Addr: fmt.Sprintf("10.%d.%d.%d", i, j/256, j%256), Prefix: 8})
		}
		ifs = append(ifs, ifc)
	}
	macs := []string{"52:54:00:00:00:00", "52:54:00:00:00:02"}
	got := ownAddrs(ParseIfaceAddrs(ifs, AddrAgent), []planNIC{{mac: macs[0]}, {mac: macs[1], net: unique.Make("default")}})
	per := map[string]int{}
	for _, a := range got {
		per[a.MAC]++
		if i := slices.Index(macs, a.MAC); i < 0 || unsafe.StringData(a.MAC) != unsafe.StringData(macs[i]) {
			t.Fatalf("%s: not the plan's MAC string: the reply's strings stay alive", a.MAC)
		}
	}
	want := map[string]int{"52:54:00:00:00:00": maxAddrsPerNIC, "52:54:00:00:00:02": maxAddrsPerNIC}
	if !maps.Equal(per, want) {
		t.Errorf("addresses per MAC %v, want %v", per, want)
	}
}

// TestAddrFailure: only errors that last stop the asking; an agent that does not
// answer, a timeout or a stopped domain are asked again.
func TestAddrFailure(t *testing.T) {
	lerr := func(c libvirt.ErrorNumber) error { return fmt.Errorf("call: %w", libvirt.Error{Code: uint32(c)}) }
	for _, tt := range []struct {
		src  AddrSource
		err  error
		want srcFailure
	}{
		{AddrLease, lerr(libvirt.ErrNoSupport), failHost},
		{AddrARP, lerr(libvirt.ErrInternalError), failHost},
		{AddrLease, lerr(libvirt.ErrInternalError), failTransient},
		{AddrLease, lerr(libvirt.ErrNoNetwork), failDomain},
		{AddrARP, lerr(libvirt.ErrNoNetwork), failDomain},
		{AddrAgent, lerr(libvirt.ErrArgumentUnsupported), failDomain},
		{AddrAgent, lerr(libvirt.ErrAgentUnresponsive), failTransient},
		{AddrAgent, lerr(libvirt.ErrAgentCommandTimeout), failTransient},
		{AddrLease, lerr(libvirt.ErrOperationInvalid), failTransient}, // domain not running
		{AddrLease, fmt.Errorf("call: %w", ErrTimeout), failTransient},
	} {
		if got := addrFailure(tt.src, tt.err); got != tt.want {
			t.Errorf("source %v, %v: %v, want %v", tt.src, tt.err, got, tt.want)
		}
	}
}

// TestDeadSourcesNotAskedAgain, on the test driver: a running domain whose NIC is on
// a network the host does not define fails both the lease and the ARP query ("Network
// not found"); after the first round neither is asked again until the domain is
// re-read. A domain on the host's network answers from its lease (one call), every
// time; a stopped domain's failure (not running) is not remembered.
func TestDeadSourcesNotAskedAgain(t *testing.T) {
	requireLibvirtd(t)
	path := addrNode(t, []addrDom{{name: "lost", network: "nowhere"}, {name: "ok", network: "default"},
		{name: "off", network: "default", off: true}})
	sink := newFakeSink()
	cfg := Config{Name: "dead", URI: "test+unix://" + path, KeepaliveInterval: time.Hour,
		KeepaliveTimeout: 5 * time.Second, StatsInterval: time.Hour} // one stats round, at the start
	s, c := startPolled(t, cfg, sink)
	doms := map[string]Domain{}
	for _, d := range sink.lastSync().Domains {
		doms[d.Name] = d
	}
	ask := func(name string) (calls uint64, addrs []IfaceAddr) {
		t.Helper()
		d := doms[name]
		p, _, _, ok := s.plans.plan(d.UUID, true) // the stored plan: markDead checks its gen
		if !ok {
			p, _ = planOf(&d)
		}
		dom := libvirt.Domain{Name: d.Name, UUID: libvirt.UUID(d.UUID), ID: int32(d.ID)}
		before := s.RPCs()
		addrs, _, err := s.domainAddresses(context.Background(), c, d.UUID, dom, p, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return s.RPCs() - before, addrs
	}
	both := srcSet(1<<AddrLease | 1<<AddrARP)
	if got := s.plans.deadSources(doms["lost"].UUID, time.Time{}); got != both {
		t.Errorf("after the first round, lost's dead sources %b, want lease and arp %b", got, both)
	}
	if n, _ := ask("lost"); n != 0 {
		t.Errorf("lost asked again with %d calls, want 0", n)
	}
	d := doms["lost"]
	s.plans.set(&d, true) // re-read (an event, an operation)
	if n, _ := ask("lost"); n != 2 {
		t.Errorf("lost after a re-read: %d calls, want 2 (lease and arp)", n)
	}
	if n, _ := ask("lost"); n != 0 {
		t.Errorf("lost asked again after failing: %d calls, want 0", n)
	}
	for range 2 {
		if n, addrs := ask("ok"); n != 1 || len(addrs) != 1 || addrs[0].Source != AddrLease {
			t.Errorf("ok: %d calls, addresses %v; want 1 call, one lease", n, addrs)
		}
		if n, _ := ask("off"); n != 2 {
			t.Errorf("off (not running): %d calls, want 2 each time", n)
		}
	}
	if got := s.plans.deadSources(doms["ok"].UUID, time.Time{}) | s.plans.deadSources(doms["off"].UUID, time.Time{}); got != 0 {
		t.Errorf("dead sources of ok or off: %b", got)
	}
	// A cure sends no domain event (a network defined again): the marks expire.
	if got := s.plans.deadSources(doms["lost"].UUID, time.Now().Add(time.Second)); got != 0 {
		t.Errorf("lost's dead sources after they expired: %b", got)
	}
	if n, _ := ask("lost"); n != 2 {
		t.Errorf("lost once its marks expired: %d calls, want 2 (lease and arp)", n)
	}
	// The first round, of every domain, tried the leases per network: the test driver
	// lacks NetworkGetDhcpLeases, and the leases were asked per domain.
	if lacks := c.lacks.Load(); lacks != 1<<srcBulkLeases {
		t.Errorf("the host lacks sources %b, want the bulk leases only (%b)", lacks, 1<<srcBulkLeases)
	}
}

// TestBulkLeasesCapped: a guest holding many leases on its MAC (a new client-id per
// DHCP request) shows at most maxAddrsPerNIC of them, as from the per-domain query.
func TestBulkLeasesCapped(t *testing.T) {
	const mac = "52:54:00:44:00:01"
	var many []IfaceAddr
	for i := range 1000 {
		many = append(many, IfaceAddr{MAC: mac, Source: AddrLease, Addr: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), Prefix: 16})
	}
	r := &roundLeases{nets: map[string]map[string][]IfaceAddr{"default": {mac: many}}}
	p := addrPlan{nics: []planNIC{{mac: strings.ToUpper(mac), net: unique.Make("default")}}}
	s := &Supervisor{}
	got, ok, err := s.bulkLeases(context.Background(), &conn{}, r, p)
	if err != nil || !ok || len(got) != maxAddrsPerNIC {
		t.Errorf("bulkLeases: %d addresses, ok %v, err %v; want %d", len(got), ok, err, maxAddrsPerNIC)
	}
}

// BenchmarkAddrPlansMemory is the live heap the address rounds keep per VM at 1,000
// hosts of 50 domains like bench/internal/fleet's (a disk outside pools, sized, and a
// NIC on a libvirt network each; a tenth shut off) after a round that read every
// running domain's lease and block writes. The parsed domains are dropped after the
// round but for their MACs and disk targets, which the view keeps: what a plan holds
// alone counts.
func BenchmarkAddrPlansMemory(b *testing.B) {
	const hosts, vms = 1000, 50
	macs := make([]string, hosts*vms)
	for j := range macs {
		macs[j] = fmt.Sprintf("52:54:%02x:%02x:%02x:%02x", j/vms>>8, j/vms&0xff, j%vms>>8, j%vms&0xff)
	}
	for range b.N {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		plans := make([]*addrPlans, hosts)
		for h := range plans {
			a := &addrPlans{}
			doms := benchDomains(h, macs[h*vms:(h+1)*vms])
			a.reset(doms)
			full := a.round(time.Minute, time.Now())
			for i := range doms {
				d := &doms[i]
				if d.State != StateRunning {
					continue
				}
				p, _, _, _ := a.plan(d.UUID, full)
				reply := []libvirt.DomainInterface{{Hwaddr: []string{strings.Clone(d.NICs[0].MAC)},
					Addrs: []libvirt.DomainIPAddr{{Type: int32(libvirt.IPAddrTypeIpv4), Addr: fmt.Sprintf("10.0.0.%d", i+2), Prefix: 16}}}}
				a.store(d.UUID, p.gen, ownAddrs(ParseIfaceAddrs(reply, AddrLease), p.nics))
				a.written(d.UUID, p, &DomainStats{Blocks: []BlockStats{{Name: "vda", WrBytes: 512}}})
			}
			plans[h] = a
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/float64(hosts*vms), "bytes/VM")
		runtime.KeepAlive(plans)
	}
}

// benchDomains is host h's domains as ParseDomainXML gives bench/internal/fleet's,
// with the sizes of their disk read: each string its own copy, but for the MACs and
// targets (the view's).
func benchDomains(h int, macs []string) []Domain {
	c := strings.Clone
	doms := make([]Domain, len(macs))
	for i, mac := range macs {
		state := StateRunning
		if i%10 == 9 {
			state = StateShutoff
		}
		doms[i] = Domain{UUID: UUID{0xf1, 0xee, 0x70, byte(h >> 8), byte(h), 14: byte(i >> 8), 15: byte(i)}, State: state,
			Disks: []Disk{{Device: c("disk"), Type: c("file"), Bus: c("virtio"), Target: "vda",
				Source: fmt.Sprintf("/fleet/h%03d/vm%03d.qcow2", h, i), Format: c("qcow2"), Capacity: 1 << 30, Allocation: 1 << 20}},
			NICs: []NIC{{MAC: mac, Type: c("network"), Source: c("default"), Model: c("virtio")}}}
	}
	return doms
}
