package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
)

// leaseARPTimeout bounds each wait of TestLeaseAndARP: the first sync of
// qemu:///system (qemuSyncTimeout), two guests booting at once under TCG (about 10 s
// each on an idle machine), their DHCP exchange and an address round (address_interval).
const leaseARPTimeout = 5 * time.Minute

// isolatedNet is a transient libvirt network of one test, without <forward>: libvirt
// isolates it (its firewall rules reject whatever would be routed to or from the
// bridge), and its dnsmasq answers DHCP on that bridge only (DNS off).
type isolatedNet struct {
	Name, Bridge string
	Prefix       netip.Prefix // 10.213.N.0/24
	Host         netip.Addr   // the bridge's address, .1
}

// addr returns the address with last octet i in the network's /24.
func (n isolatedNet) addr(i byte) netip.Addr {
	a := n.Prefix.Addr().As4()
	a[3] = i
	return netip.AddrFrom4(a)
}

// needNetworkDriver skips the test, loudly, when the local libvirtd cannot run a
// network with DHCP: no dnsmasq (deploy/testbed/deps installs dnsmasq-base) or no
// network driver.
func needNetworkDriver(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("dnsmasq"); err != nil {
		if _, err2 := os.Stat("/usr/sbin/dnsmasq"); err2 != nil {
			t.Skipf("SKIPPING lease/ARP test: no dnsmasq for libvirt's DHCP (deploy/testbed/deps installs dnsmasq-base): %v", err)
		}
	}
	if _, err := virshRun("net-list", "--all"); err != nil {
		t.Skipf("SKIPPING lease/ARP test: libvirt's network driver does not answer on %s: %v", QemuURI, err)
	}
}

// createIsolatedNet starts a transient isolated network with a DHCP range .100-.199 in
// a free 10.213.200-249.0/24 (10.213/16 is the test bed's; its netns hosts use the low
// end); it is destroyed at cleanup.
func createIsolatedNet(t *testing.T, dir string) isolatedNet {
	t.Helper()
	for range 8 {
		id := randHex(t, 4)
		v, err := strconv.ParseUint(id[:2], 16, 8)
		if err != nil {
			t.Fatal(err)
		}
		third := 200 + v%50
		n := isolatedNet{Name: "vgt-" + id, Bridge: "vgt" + id,
			Prefix: netip.MustParsePrefix(fmt.Sprintf("10.213.%d.0/24", third))}
		n.Host = n.addr(1)
		if prefixInUse(t, n.Prefix) {
			continue
		}
		xml := fmt.Sprintf(`<network>
<name>%s</name>
<bridge name='%s' stp='off' delay='0'/>
<dns enable='no'/>
<ip address='%s' prefix='24'>
<dhcp><range start='%s' end='%s'/></dhcp>
</ip>
</network>
`, n.Name, n.Bridge, n.Host, n.addr(100), n.addr(199))
		file := filepath.Join(dir, n.Name+".xml")
		if err := os.WriteFile(file, []byte(xml), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = virshRun("net-destroy", n.Name) })
		_, err = virshRun("net-create", file)
		if err == nil {
			return n
		}
		if strings.Contains(err.Error(), "already in use") {
			continue // another test took the range meanwhile
		}
		t.Fatal(err)
	}
	t.Fatal("no free 10.213.200-249.0/24 for an isolated network after 8 tries")
	return isolatedNet{}
}

// prefixInUse says whether an interface of this machine has an address in p.
func prefixInUse(t *testing.T, p netip.Prefix) bool {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok && p.Contains(ip.Unmap()) {
				return true
			}
		}
	}
	return false
}

// ipv4Of finds mac's IPv4 address (a/prefix) in virsh output whose rows hold the MAC,
// then "ipv4" and the address: domifaddr (Name, MAC, Protocol, Address) and
// net-dhcp-leases (Expiry date and time, MAC, Protocol, IP address, ...).
func ipv4Of(out, mac string) (netip.Prefix, bool) {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		for i := 0; i+2 < len(f); i++ {
			if strings.EqualFold(f[i], mac) && f[i+1] == "ipv4" {
				p, err := netip.ParsePrefix(f[i+2])
				return p, err == nil
			}
		}
	}
	return netip.Prefix{}, false
}

// arpEntry returns the MAC the host's ARP table (/proc/net/arp) has for ip on dev, if
// the entry is complete.
func arpEntry(t *testing.T, ip netip.Addr, dev string) (string, bool) {
	t.Helper()
	f, err := os.Open("/proc/net/arp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// IP address, HW type, Flags, HW address, Mask, Device; flag 0x2: complete.
		if c := strings.Fields(sc.Text()); len(c) == 6 && c[0] == ip.String() && c[5] == dev && c[2] != "0x0" {
			return strings.ToLower(c[3]), true
		}
	}
	return "", false
}

// sendDatagram sends one UDP datagram from the host's address on the isolated bridge to
// the discard port of a guest on it: the host resolves the guest's MAC by ARP first
// (the guest answers that, and an ICMP port unreachable). The destination's route is
// the bridge's /24, so nothing leaves the machine.
func sendDatagram(from, to netip.Addr) error {
	c, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(from, 0)),
		net.UDPAddrFromAddrPort(netip.AddrPortFrom(to, 9)))
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte("vmgate e2e"))
	return err
}

// TestLeaseAndARP tests networkAddressTable's other two sources on qemu:///system with
// the test bed's guest (deploy/testbed/guest-image), both domains without the guest
// agent's channel, on a transient isolated libvirt network of the test's own:
//   - lease: a domain whose NIC is on the network takes a DHCP lease (vmgate.net=dhcp);
//     its address shows in networkAddressTable with networkAddressSource lease(1) and
//     the lease's prefix, as virsh net-dhcp-leases and domifaddr --source lease say;
//     vmgate read it with the network's leases in bulk (NetworkGetDhcpLeases, which
//     /metrics counts), not per domain.
//   - arp: a domain with a plain bridge NIC on the network's bridge and a static address
//     (no libvirt network, so only the ARP table can tell); once the host sent it one
//     datagram, its address shows with source arp(3), as virsh domifaddr --source arp
//     says. Skipped, loudly, when libvirt's ARP source itself fails.
func TestLeaseAndARP(t *testing.T) {
	bin := needQemu(t)
	mibPath := mibDirs(t)
	needNetworkDriver(t)
	img := guestImage(t)
	if img.NetDHCP == "" {
		t.Fatal("deploy/testbed/guest-image printed no NET_DHCP: an image without DHCP")
	}
	dir := imageDir(t)
	n := createIsolatedNet(t, dir)
	host := "leasearp-" + randHex(t, 4)
	staticIP := n.addr(50)
	leaseVM, _ := defineGuest(t, dir, host+"-lease", img, img.NetDHCP,
		fmt.Sprintf("<interface type='network'><source network='%s'/>", n.Name), false, "")
	arpVM, arpConsole := defineGuest(t, dir, host+"-arp", img, fmt.Sprintf("vmgate.ip=%s/24", staticIP),
		fmt.Sprintf("<interface type='bridge'><source bridge='%s'/>", n.Bridge), false, "")
	start := time.Now()
	virsh(t, "start", leaseVM.Name)
	virsh(t, "start", arpVM.Name)

	cfg := qemuConfig(host)
	hostOptions(&cfg, map[string]map[string]any{
		host: {"call_timeout": "3m", "stats_interval": "2s", "address_interval": "4s"},
	})
	httpAddr := "127.0.0.1:" + strconv.Itoa(testkit.FreeTCPPort(t))
	cfg.Raw["http"] = map[string]any{"listen": httpAddr}
	g := Start(t, bin, cfg)
	cred := admin.Cred(host)
	vmIDFor := func(t *testing.T, vm qemuVM) string {
		t.Helper()
		id := ""
		pollUntil(t, leaseARPTimeout, vm.Name+" in virtualMachinesTable", func() string {
			var err error
			id, err = vmIDOf(readTable(t, g, mibPath, cred, "virtualMachinesTable"), vm.UUID)
			if err != nil {
				return err.Error()
			}
			return ""
		})
		return id
	}

	t.Run("lease", func(t *testing.T) {
		mac := leaseVM.MACs[0]
		var lease netip.Prefix
		pollUntil(t, leaseARPTimeout, "virsh net-dhcp-leases shows "+mac, func() string {
			out, err := virshRun("net-dhcp-leases", n.Name)
			if err != nil {
				return err.Error()
			}
			p, ok := ipv4Of(out, mac)
			if !ok {
				return "no lease for " + mac + ":\n" + out
			}
			lease = p
			return ""
		})
		t.Logf("lease %s for %s %v after virsh start", lease, mac, time.Since(start).Round(time.Second))
		if a := lease.Addr(); !n.Prefix.Contains(a) || a.Less(n.addr(100)) || n.addr(199).Less(a) || lease.Bits() != 24 {
			t.Fatalf("lease %s: not in the DHCP range %s-%s/24", lease, n.addr(100), n.addr(199))
		}
		if p, ok := ipv4Of(virsh(t, "domifaddr", leaseVM.Name, "--source", "lease"), mac); !ok || p != lease {
			t.Fatalf("virsh domifaddr --source lease: %s has %v (found %v); net-dhcp-leases says %s", mac, p, ok, lease)
		}
		vmID := vmIDFor(t, leaseVM)
		pollUntil(t, leaseARPTimeout, "networkAddressTable has the lease", func() string {
			src, prefix, why := addressRow(t, g, cred, vmID, lease.Addr())
			switch {
			case why != "":
				return why
			case src != "1":
				return "networkAddressSource " + src + ", want lease(1)"
			case prefix != fmt.Sprint(lease.Bits()):
				return "networkAddressPrefixLength " + prefix + ", the lease is " + lease.String()
			}
			return ""
		})
		t.Logf("lease in networkAddressTable %v after virsh start", time.Since(start).Round(time.Second))
		_, metrics := httpGet(t, "http://"+httpAddr+"/metrics")
		bulk := fmt.Sprintf(`vmgate_libvirt_calls_total{host=%q,procedure="NetworkGetDhcpLeases"}`, host)
		if !strings.Contains(metrics, bulk) {
			t.Errorf("/metrics has no %s: the leases were not read per network", bulk)
		}
		if failed := fmt.Sprintf(`vmgate_libvirt_call_errors_total{host=%q,procedure="NetworkGetDhcpLeases"}`, host); strings.Contains(metrics, failed) {
			t.Errorf("/metrics has %s: a per-network lease read failed", failed)
		}
	})

	t.Run("arp", func(t *testing.T) {
		mac := arpVM.MACs[0]
		waitConsole(t, leaseARPTimeout, arpConsole, fmt.Sprintf("vmgate-guest: eth0 %s/24", staticIP))
		// The first datagram normally does it; one per poll until the entry is complete
		// covers a guest whose first ARP answer was lost.
		pollUntil(t, leaseARPTimeout, "the host's ARP table has "+staticIP.String(), func() string {
			if got, ok := arpEntry(t, staticIP, n.Bridge); ok {
				if got != mac {
					t.Fatalf("the host's ARP table has %s at %s on %s, the guest's MAC is %s", staticIP, got, n.Bridge, mac)
				}
				return ""
			}
			if err := sendDatagram(n.Host, staticIP); err != nil {
				return err.Error()
			}
			return "no complete ARP entry yet"
		})
		vmID := vmIDFor(t, arpVM)
		out, err := virshRun("domifaddr", arpVM.Name, "--source", "arp")
		if err != nil {
			if strings.Contains(err.Error(), "wrong nlmsg len") {
				if src, _, why := addressRow(t, g, cred, vmID, staticIP); why == "" {
					t.Errorf("networkAddressTable has %s for %s (source %s), but libvirt tells no address", staticIP, arpVM.Name, src)
				}
				// The operator is told once, at warning level, and the host is not asked again.
				pollUntil(t, leaseARPTimeout, "the gateway's log says the ARP table is unreadable", func() string {
					if !strings.Contains(g.Logs(), "cannot read its ARP table") {
						return "no such line in the log"
					}
					return ""
				})
				if n := strings.Count(g.Logs(), "cannot read its ARP table"); n > 1 {
					t.Errorf("the ARP table's failure logged %d times, want once per connection", n)
				}
				kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
				t.Skipf("SKIPPING the ARP check: the host's ARP table has %s at %s, but libvirtd's ARP source fails (%v): "+
					"its netlink parser (libvirt 9.0) rejects the NLMSG_DONE that this kernel (%s) sends in the same "+
					"datagram as the neighbour dump; vmgate can only show what libvirt reads", staticIP, mac, err,
					strings.TrimSpace(string(kernel)))
			}
			t.Fatal(err)
		}
		p, ok := ipv4Of(out, mac)
		if !ok || p.Addr() != staticIP {
			t.Fatalf("virsh domifaddr --source arp: %s has %v (found %v); the guest set %s:\n%s", mac, p, ok, staticIP, out)
		}
		pollUntil(t, leaseARPTimeout, "networkAddressTable has the ARP table's address", func() string {
			src, prefix, why := addressRow(t, g, cred, vmID, staticIP)
			switch {
			case why != "":
				return why
			case src != "3":
				return "networkAddressSource " + src + ", want arp(3)"
			case prefix != fmt.Sprint(p.Bits()):
				return "networkAddressPrefixLength " + prefix + ", virsh says " + p.String()
			}
			return ""
		})
	})
}
