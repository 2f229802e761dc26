package hosts

import (
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"testing"
	"time"

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
	want := addrPlan{macs: []string{"52:54:00:00:00:01", "52:54:00:00:00:02"}, network: true, agent: true}
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
		_, read, last, ok := a.plan(id, full)
		if !ok || read != wantRead || len(last) != len(wantLast) {
			t.Fatalf("%s: ok=%v read=%v last=%v, want read=%v last=%v", name, ok, read, last, wantRead, wantLast)
		}
		if read {
			a.store(id, addr)
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
	if !ok || len(p.sized) != 2 || p.sized[0].Target != "vda" || p.sized[1].Target != "vdb" {
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
	if got := a.written(id, p, stats(15, 20)); len(got) != 1 || got[0].Target != "vda" {
		t.Errorf("vda written: %v", got)
	}
	// A re-read (after the round that saw vda written) keeps the record: what was
	// written since, during or after that read, shows at the next round.
	a.set(&d, true)
	if got := a.written(id, p, stats(20, 20)); len(got) != 1 || got[0].Target != "vda" {
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
	got := ownAddrs(ParseIfaceAddrs(ifs, AddrAgent), []string{"52:54:00:00:00:00", "52:54:00:00:00:02"})
	per := map[string]int{}
	for _, a := range got {
		per[a.MAC]++
	}
	want := map[string]int{"52:54:00:00:00:00": maxAddrsPerNIC, "52:54:00:00:00:02": maxAddrsPerNIC}
	if !maps.Equal(per, want) {
		t.Errorf("addresses per MAC %v, want %v", per, want)
	}
}
