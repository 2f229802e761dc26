package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmgate/vmgate/mib"
)

// guestAgentTimeout bounds each wait for what the guest's agent reports to show in the
// gateway: the first sync of qemu:///system (qemuSyncTimeout), the guest's boot under
// TCG (about 10 s on an idle machine) and an address round (address_interval).
const guestAgentTimeout = 5 * time.Minute

// agentGuest is the test bed's agent guest image (deploy/testbed/guest-image facts).
type agentGuest struct {
	Kernel, Initrd, Cmdline      string
	OSName, OSVersionID, GuestIP string
	NetDHCP                      string // the command-line argument for DHCP (NET_DHCP)
	Fill                         string // the command-line argument's prefix to write N MiB to vda (FILL)
}

// guestImage builds (or finds in its cache) the agent guest image; it skips the test,
// loudly, when the image cannot be built (not root, no apt lists or no network).
func guestImage(t *testing.T) agentGuest {
	t.Helper()
	script, err := filepath.Abs("../deploy/testbed/guest-image")
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Skipf("SKIPPING guest-agent test: %s needs root (apt-get download, cache in /var/cache)", script)
	}
	out, err := exec.Command(script).Output()
	if err != nil {
		var stderr string
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Skipf("SKIPPING guest-agent test: the agent guest image cannot be built: %s: %v: %s", script, err, stderr)
	}
	facts := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			facts[k] = v
		}
	}
	g := agentGuest{Kernel: facts["KERNEL"], Initrd: facts["INITRD"], Cmdline: facts["CMDLINE"],
		OSName: facts["OS_NAME"], OSVersionID: facts["OS_VERSION_ID"], GuestIP: facts["GUEST_IP"],
		NetDHCP: facts["NET_DHCP"], Fill: facts["FILL"]}
	if g.Kernel == "" || g.Initrd == "" || g.OSName == "" || g.GuestIP == "" {
		t.Fatalf("%s printed incomplete facts: %q", script, out)
	}
	return g
}

// defineGuest defines a 128 MiB, 1-vCPU TCG domain that boots img directly with extra
// kernel arguments (args), one virtio NIC (nic: the <interface> element's opening part
// and <source>, e.g. "<interface type='user'>"), the guest agent's channel when agent,
// its serial console in a file (printed if the test fails) and more devices (XML, may be
// ""); it is destroyed and undefined at cleanup. It returns the VM and the console file.
func defineGuest(t *testing.T, dir, name string, img agentGuest, args, nic string, agent bool, more string) (qemuVM, string) {
	t.Helper()
	u := randHex(t, 16)
	m := randHex(t, 3)
	vm := qemuVM{Name: name, UUID: u[0:8] + "-" + u[8:12] + "-4" + u[13:16] + "-8" + u[17:20] + "-" + u[20:32],
		MACs: []string{"52:54:00:" + m[0:2] + ":" + m[2:4] + ":" + m[4:6]}}
	console := filepath.Join(dir, name+".console")
	channel := ""
	if agent {
		channel = "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>\n"
	}
	xml := fmt.Sprintf(`<domain type='qemu'>
<name>%s</name><uuid>%s</uuid>
<memory unit='MiB'>128</memory><currentMemory unit='MiB'>128</currentMemory>
<vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type>
<kernel>%s</kernel><initrd>%s</initrd><cmdline>%s %s</cmdline></os>
<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
<devices>
%s<mac address='%s'/><model type='virtio'/></interface>
%s<serial type='file'><source path='%s'/><target port='0'/></serial>
%s</devices>
</domain>
`, name, vm.UUID, img.Kernel, img.Initrd, img.Cmdline, args, nic, vm.MACs[0], channel, console, more)
	file := filepath.Join(dir, name+".xml")
	if err := os.WriteFile(file, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(console)
			t.Logf("%s's console:\n%s", name, b)
		}
		removeVM(name)
	})
	virsh(t, "define", file)
	return vm, console
}

// TestGuestAgent boots the test bed's agent guest (deploy/testbed/guest-image: a Debian
// kernel and an initramfs running qemu-guest-agent) on qemu:///system and waits, by
// polling the gateway, until its vmOsIndex points at a supportedOsTable row with
// osSource guestAgent(2) and the guest's os-release NAME and VERSION_ID, and until
// networkAddressTable has the address the agent reports for the NIC, with
// networkAddressSource agent(2). Both are compared with virsh guestinfo --os and
// virsh domifaddr --source agent. Destroyed, the VM is back on its OS type's row.
func TestGuestAgent(t *testing.T) {
	bin := needQemu(t)
	mibPath := mibDirs(t)
	img := guestImage(t)
	host := "gagent-" + randHex(t, 4)
	vm, _ := defineGuest(t, imageDir(t), host+"-vm", img, "", "<interface type='user'>", true, "")
	start := time.Now()
	virsh(t, "start", vm.Name)

	cfg := qemuConfig(host)
	hostOptions(&cfg, map[string]map[string]any{
		host: {"call_timeout": "3m", "stats_interval": "2s", "address_interval": "4s"},
	})
	g := Start(t, bin, cfg)
	cred := admin.Cred(host)
	vmID := ""
	var osRow map[string]string
	pollUntil(t, guestAgentTimeout, "vmOsIndex points at a guestAgent(2) supportedOsTable row", func() string {
		vms := readTable(t, g, mibPath, cred, "virtualMachinesTable")
		id, err := vmIDOf(vms, vm.UUID)
		if err != nil {
			return err.Error()
		}
		vmID = id
		idx := vms[id]["vmOsIndex"]
		r, ok := readTable(t, g, mibPath, cred, "supportedOsTable")[idx]
		if !ok {
			return "no supportedOsTable row " + idx
		}
		if r["osSource"] != "2" {
			return fmt.Sprintf("vmOsIndex.%s = %s: row %v", id, idx, r)
		}
		osRow = r
		return ""
	})
	t.Logf("agent's OS in the gateway %v after virsh start", time.Since(start).Round(time.Second))

	info := parseColon(virsh(t, "guestinfo", vm.Name, "--os"))
	want := map[string]string{"osName": info["os.name"], "osVersion": info["os.version-id"], "osInfoId": ""}
	for col, w := range want {
		if osRow[col] != w {
			t.Errorf("%s = %q; virsh guestinfo --os says %q", col, osRow[col], w)
		}
	}
	if info["os.name"] != img.OSName || info["os.version-id"] != img.OSVersionID {
		t.Errorf("virsh guestinfo --os: %v; the image's os-release says %q %q", info, img.OSName, img.OSVersionID)
	}

	ip := netip.MustParseAddr(img.GuestIP)
	agentSays := ""
	// Name, MAC address, Protocol, Address; an interface's further addresses have "-"
	// for name and MAC.
	for _, l := range strings.Split(virsh(t, "domifaddr", vm.Name, "--source", "agent"), "\n") {
		if f := strings.Fields(l); len(f) == 4 && strings.EqualFold(f[1], vm.MACs[0]) && f[2] == "ipv4" {
			agentSays = f[3]
		}
	}
	if agentSays != img.GuestIP+"/24" {
		t.Fatalf("virsh domifaddr --source agent: %s has %q, the guest sets %s/24", vm.MACs[0], agentSays, ip)
	}
	pollUntil(t, guestAgentTimeout, "networkAddressTable has the agent's address", func() string {
		src, prefix, why := addressRow(t, g, cred, vmID, ip)
		switch {
		case why != "":
			return why
		case src != "2":
			return "networkAddressSource " + src + ", want agent(2)"
		case prefix != "24":
			return "networkAddressPrefixLength " + prefix + ", virsh says " + agentSays
		}
		return ""
	})

	// Shut off, the VM is back on the row of its OS type (it has no libosinfo metadata).
	virsh(t, "destroy", vm.Name)
	pollUntil(t, guestAgentTimeout, "vmOsIndex back on an osType(3) row after virsh destroy", func() string {
		idx := getByName(t, g, mibPath, cred, "vmOsIndex."+vmID)
		if idx.Err != nil || len(idx.Vars()) != 1 {
			return idx.String()
		}
		r := getByName(t, g, mibPath, cred, "osSource."+idx.Vars()[0].Value, "osName."+idx.Vars()[0].Value)
		if r.Err != nil || len(r.Vars()) != 2 {
			return r.String()
		}
		if src, name := r.Vars()[0].Value, r.Vars()[1].Value; src != "3" || name != "hvm" {
			return fmt.Sprintf("vmOsIndex.%s = %s: osSource %s, osName %q", vmID, idx.Vars()[0].Value, src, name)
		}
		return ""
	})
}

// addressRow finds vmID's networkAddressTable row for ip by walking two of the table's
// columns: its index ends with the address, as networkAddressType.length.octets (RFC
// 4001 4.1). It returns the row's networkAddressSource and networkAddressPrefixLength.
func addressRow(t *testing.T, g *Gateway, cred Cred, vmID string, ip netip.Addr) (src, prefix, why string) {
	t.Helper()
	walk := func(col string) map[string]string {
		o, ok := mib.Lookup(col)
		if !ok {
			t.Fatalf("no OID for %s", col)
		}
		base := o.String() + "." + vmID
		r := g.Run(t, "snmpbulkwalk", cred, "-Cr25", base)
		if r.Err != nil {
			t.Fatalf("walk %s: %s", col, r)
		}
		out := map[string]string{}
		for _, v := range r.WalkVars() {
			if rest, ok := strings.CutPrefix(v.OID, base); ok {
				out[rest] = v.Value
			}
		}
		return out
	}
	sources, prefixes := walk("networkAddressSource"), walk("networkAddressPrefixLength")
	octets := ip.AsSlice()
	typ := map[bool]string{true: "1", false: "2"}[ip.Is4()] // ipv4(1), ipv6(2)
	enc := []string{"", typ, fmt.Sprint(len(octets))}
	for _, b := range octets {
		enc = append(enc, fmt.Sprint(b))
	}
	suffix := strings.Join(enc, ".")
	for sub, v := range sources {
		if strings.HasSuffix(sub, suffix) {
			return v, prefixes[sub], ""
		}
	}
	return "", "", fmt.Sprintf("no networkAddressTable row for %s under vmId %s: %v", ip, vmID, sources)
}

// TestDiskImageGrowth: the agent guest writes 32 MiB to a qcow2 image outside any pool
// while it runs; the gateway notices the writes in its stats, sizes the disk again and
// shows the grown image's allocation (virsh domblkinfo) in diskImagesTable and
// storageTable, without any event from libvirt.
func TestDiskImageGrowth(t *testing.T) {
	bin := needQemu(t)
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skipf("SKIPPING: no qemu-img: %v", err)
	}
	img := guestImage(t)
	if img.Fill == "" {
		t.Fatal("the guest image has no FILL fact (IMAGE_REV < 3?)")
	}
	mibPath := mibDirs(t)
	host := "grow-" + randHex(t, 4)
	dir := imageDir(t)
	disk := filepath.Join(dir, "grow.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", disk, "256M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v: %s", err, out)
	}
	more := fmt.Sprintf("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>"+
		"<target dev='vda' bus='virtio'/></disk>\n", disk)
	vm, console := defineGuest(t, dir, host+"-vm", img, img.Fill+"32", "<interface type='user'>", false, more)
	before := parseColon(virsh(t, "domblkinfo", vm.Name, "vda"))["Allocation"]

	cfg := qemuConfig(host)
	hostOptions(&cfg, map[string]map[string]any{
		host: {"call_timeout": "3m", "stats_interval": "1s", "address_interval": "2s"},
	})
	g := Start(t, bin, cfg)
	cred := admin.Cred(host)
	virsh(t, "start", vm.Name)
	waitConsole(t, guestAgentTimeout, console, "vmgate-guest: wrote 32 MiB to vda")
	info := parseColon(virsh(t, "domblkinfo", vm.Name, "vda"))
	grown, _ := strconv.ParseUint(info["Allocation"], 10, 64)
	if was, _ := strconv.ParseUint(before, 10, 64); grown < was+32<<20 {
		t.Fatalf("virsh domblkinfo: allocation %d after writing 32 MiB, %d before", grown, was)
	}
	pollUntil(t, guestAgentTimeout, "the grown allocation served", func() string {
		imgs := readTable(t, g, mibPath, cred, "diskImagesTable")
		rows := imgs.byColumn("diskImagePath", disk)
		if len(rows) != 1 {
			return fmt.Sprintf("%d rows with path %s", len(rows), disk)
		}
		if r := imgs[rows[0]]; r["diskImageAllocation"] != info["Allocation"] || r["diskImageCapacity"] != info["Capacity"] {
			return fmt.Sprintf("row %v, virsh domblkinfo %v", r, info)
		}
		id, err := vmIDOf(readTable(t, g, mibPath, cred, "virtualMachinesTable"), vm.UUID)
		if err != nil {
			return err.Error()
		}
		for _, s := range readTable(t, g, mibPath, cred, "storageTable").subRows(id) {
			if s["storageAllocation"] != info["Allocation"] {
				return fmt.Sprintf("storage row %v, virsh domblkinfo %v", s, info)
			}
		}
		return ""
	})
}

// waitConsole waits until the guest's console file (defineGuest) holds line.
func waitConsole(t *testing.T, timeout time.Duration, console, line string) {
	t.Helper()
	pollUntil(t, timeout, "console says "+line, func() string {
		b, _ := os.ReadFile(console)
		if !strings.Contains(string(b), line) {
			return "its console does not say so yet"
		}
		return ""
	})
}
