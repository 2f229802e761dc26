package mibview_test

import (
	"github.com/vmgate/vmgate/gateway/mibview"
	"github.com/vmgate/vmgate/gateway/templates"
	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/gateway/view/viewtest"
	"github.com/vmgate/vmgate/mib/mibtest"

	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/snmp"
)

// mibFixture: kvm1 (connected, counters polled) runs web1 and has idle shut off;
// kvm2 ran db1 and is now disconnected.
func mibFixture(t *testing.T) (*view.View, *mib.Handler) {
	t.Helper()
	v, reg := viewtest.Open(t, filepath.Join(t.TempDir(), "indexes.json"))
	v.SetHosts([]view.HostSpec{{Name: "kvm1", URI: "qemu+ssh://kvm1.example.net/system"}, {Name: "kvm2", URI: "test:///default"}})
	now := time.Now()
	v.Health("kvm1", hosts.Health{Status: hosts.Up, Since: now, LastSync: now, LastSyncDuration: 20 * time.Millisecond})
	v.Health("kvm2", hosts.Health{Status: hosts.Up, Since: now})

	web1 := hosts.Domain{UUID: hosts.UUID{0x11, 15: 1}, Name: "web1", ID: 3, State: hosts.StateRunning,
		Persistent: true, Autostart: true, MemoryKiB: 2 << 20, CurrentMemoryKiB: 1 << 20, VCPUs: 2, MaxVCPUs: 4,
		OSType: "hvm", Arch: "x86_64", OSInfoID: "http://debian.org/debian/12",
		Disks: []hosts.Disk{
			{Device: "disk", Type: "volume", Bus: "virtio", Target: "vda", Pool: "default", Volume: "web1.qcow2", Format: "qcow2"},
			{Device: "cdrom", Type: "file", Bus: "sata", Target: "sda"},
		},
		NICs:        []hosts.NIC{{MAC: "52:54:00:aa:bb:01", Type: "bridge", Source: "br0", Model: "virtio", Target: "vnet0"}},
		Controllers: []hosts.Controller{{Type: "scsi", Model: "virtio-scsi"}, {Type: "usb", Model: "qemu-xhci"}},
	}
	idle := hosts.Domain{UUID: hosts.UUID{0x11, 15: 2}, Name: "idle", ID: -1, State: hosts.StateShutoff,
		MemoryKiB: 256 << 10, VCPUs: 1, MaxVCPUs: 1, OSType: "hvm", Arch: "x86_64",
		Kernel: "/boot/vmlinuz", Initrd: "/boot/initrd.img", Cmdline: "console=ttyS0"}
	v.Synced("kvm1", hosts.Inventory{
		Hypervisor: hosts.Hypervisor{Type: "QEMU", Version: 8002000, LibvirtVersion: 10000000, Hostname: "kvm1",
			Node: hosts.NodeInfo{Model: "x86_64", MemoryKiB: 16 << 20, CPUs: 8, MHz: 2400}},
		Domains: []hosts.Domain{web1, idle},
		Pools:   []hosts.Pool{{Name: "default", Path: "/var/lib/libvirt/images", Active: true}},
		Volumes: []hosts.Volume{{Pool: "default", Name: "web1.qcow2", Path: "/var/lib/libvirt/images/web1.qcow2",
			Format: "qcow2", Capacity: 10 << 30, Allocation: 1 << 30}},
	})
	db1 := hosts.Domain{UUID: hosts.UUID{0x22, 15: 1}, Name: "db1", ID: 1, State: hosts.StateRunning,
		Persistent: true, MemoryKiB: 512 << 10, VCPUs: 1, MaxVCPUs: 1, OSType: "hvm",
		Disks: []hosts.Disk{{Device: "disk", Type: "file", Bus: "virtio", Target: "vda", Source: "/srv/db1.raw", Format: "raw"}},
		NICs:  []hosts.NIC{{MAC: "52:54:00:aa:bb:02", Type: "network", Source: "default", Target: "vnet9"}},
	}
	v.Synced("kvm2", hosts.Inventory{Domains: []hosts.Domain{db1}})
	stats := func(u hosts.UUID) hosts.DomainStats {
		return hosts.DomainStats{UUID: u, State: hosts.StateRunning, CPUTimeNs: 5_000_000_000,
			HasBalloon: true, BalloonCurrentKiB: 1 << 20, BalloonAvailableKiB: 1000000, BalloonUnusedKiB: 600000,
			BalloonRSSKiB: 300000,
			VCPUs:         []hosts.VCPUStats{{Number: 0, State: 1, TimeNs: 2_000_000_000}, {Number: 1, State: 2, TimeNs: 3_000_000_000}},
			Blocks:        []hosts.BlockStats{{Name: "vda", RdReqs: 10, RdBytes: 4096, WrReqs: 20, WrBytes: 8192, Capacity: 10 << 30, Allocation: 2 << 30}},
			Nets:          []hosts.NetStats{{Name: "vnet0", RxBytes: 1000, RxPkts: 10, TxBytes: 2000, TxPkts: 20}, {Name: "vnet9", RxBytes: 7}},
		}
	}
	v.Stats("kvm1", hosts.NewStats(now, []hosts.DomainStats{stats(web1.UUID)}))
	v.Stats("kvm2", hosts.NewStats(now, []hosts.DomainStats{stats(db1.UUID)}))
	v.Health("kvm2", hosts.Health{Status: hosts.Down, Since: now, LastError: "connection refused"})
	return v, mib.NewHandler(mibview.New(v, reg, nil))
}

func vmIDOf(t *testing.T, v *view.View, name string) uint32 {
	t.Helper()
	return viewtest.FindVM(t, v.Read(), strconv.Quote(name), func(r view.VMRow) bool { return r.Domain.Name == name }).VMID
}

func mibOID(t *testing.T, name string, idx ...uint32) snmp.OID {
	t.Helper()
	o, ok := mib.Lookup(name)
	if !ok {
		t.Fatalf("no object %q", name)
	}
	return o.Append(idx...)
}

func TestMIBViewGet(t *testing.T) {
	v, h := mibFixture(t)
	web1, idle, db1 := vmIDOf(t, v, "web1"), vmIDOf(t, v, "idle"), vmIDOf(t, v, "db1")
	s := v.Read()
	w, _ := s.VM("", web1)
	d, _ := s.VM("", db1)
	vda, sda, nic, scsi, usb := w.Disks[0].StorageIndex, w.Disks[1].StorageIndex, w.NICs[0].NetworkIndex,
		w.HBAs[0].HBAIndex, w.HBAs[1].HBAIndex
	img := w.Disks[0].DiskImageIndex
	dbDisk, dbNIC := d.Disks[0].StorageIndex, d.NICs[0].NetworkIndex
	kvm1, _ := s.Host("kvm1")
	kvm2, _ := s.Host("kvm2")
	os1, k1 := w.OSIndex, uint32(0)
	if r, ok := s.VM("", idle); ok {
		k1 = r.KernelIndex
	}
	tests := []struct {
		name string
		ctx  string
		oid  snmp.OID
		typ  gosnmp.Asn1BER
		val  any
	}{
		{"vmmName", "kvm1", mibOID(t, "vmmName", 0), gosnmp.OctetString, "QEMU"},
		{"vmmVersionString", "kvm1", mibOID(t, "vmmVersionString", 0), gosnmp.OctetString, "8.2.0"},
		{"vmmName merged", "", mibOID(t, "vmmName", 0), gosnmp.NoSuchInstance, nil},
		{"hypervisorName", "", mibOID(t, "hypervisorName", kvm2.Index), gosnmp.OctetString, "kvm2"},
		{"hypervisorConnState up", "kvm1", mibOID(t, "hypervisorConnState", kvm1.Index), gosnmp.Integer, 1},
		{"hypervisor of another context", "kvm2", mibOID(t, "hypervisorConnState", kvm1.Index), gosnmp.NoSuchInstance, nil},
		{"hypervisorConnState down", "", mibOID(t, "hypervisorConnState", kvm2.Index), gosnmp.Integer, 3},
		{"hypervisorLastError", "", mibOID(t, "hypervisorLastError", kvm2.Index), gosnmp.OctetString, "connection refused"},
		{"hypervisorLastSyncDuration", "", mibOID(t, "hypervisorLastSyncDuration", kvm1.Index), gosnmp.Gauge32, uint32(20)},
		{"hypervisorVmCount", "", mibOID(t, "hypervisorVmCount", kvm1.Index), gosnmp.Gauge32, uint32(2)},
		{"hypervisorCpus", "", mibOID(t, "hypervisorCpus", kvm1.Index), gosnmp.Gauge32, uint32(8)},
		{"vmName", "", mibOID(t, "vmName", web1), gosnmp.OctetString, "web1"},
		{"vmUUID", "", mibOID(t, "vmUUID", web1), gosnmp.OctetString, []byte{0x11, 14: 0, 15: 1}},
		{"vmState running", "kvm1", mibOID(t, "vmState", web1), gosnmp.Integer, 2},
		{"vmState shutoff", "", mibOID(t, "vmState", idle), gosnmp.Integer, 6},
		{"vmState host down", "", mibOID(t, "vmState", db1), gosnmp.Integer, 9},
		{"vmState host down, host context", "kvm2", mibOID(t, "vmState", db1), gosnmp.Integer, 9},
		{"vmConfFile", "", mibOID(t, "vmConfFile", web1), gosnmp.OctetString, "/etc/libvirt/qemu/web1.xml"},
		{"vmConfFile test driver", "", mibOID(t, "vmConfFile", db1), gosnmp.OctetString, ""},
		{"vmOsIndex", "", mibOID(t, "vmOsIndex", web1), gosnmp.Gauge32, os1},
		{"vmKernelIndex", "", mibOID(t, "vmKernelIndex", idle), gosnmp.Gauge32, k1},
		{"vmMemoryMb", "", mibOID(t, "vmMemoryMb", web1), gosnmp.Gauge32, uint32(1024)},
		{"vmCpuMilliseconds", "", mibOID(t, "vmCpuMilliseconds", web1), gosnmp.Counter64, uint64(5000)},
		{"vmCpuMilliseconds shut off", "", mibOID(t, "vmCpuMilliseconds", idle), gosnmp.Counter64, uint64(0)},
		{"vmCpuMilliseconds host down", "", mibOID(t, "vmCpuMilliseconds", db1), gosnmp.NoSuchInstance, nil},
		{"vmUptime shut off", "", mibOID(t, "vmUptime", idle), gosnmp.TimeTicks, uint32(0)},
		{"vm of another context", "kvm1", mibOID(t, "vmName", db1), gosnmp.NoSuchInstance, nil},
		{"memoryUsedKB", "", mibOID(t, "memoryUsedKB", web1), gosnmp.Gauge32, uint32(400000)},
		{"memoryFreeKB", "", mibOID(t, "memoryFreeKB", web1), gosnmp.Gauge32, uint32(600000)},
		{"memoryRssKB", "", mibOID(t, "memoryRssKB", web1), gosnmp.Gauge32, uint32(300000)},
		{"memoryUsedKB host down", "", mibOID(t, "memoryUsedKB", db1), gosnmp.Gauge32, uint32(0)},
		{"memoryMaxKB", "", mibOID(t, "memoryMaxKB", web1), gosnmp.Gauge32, uint32(2 << 20)},
		{"cpuMilliseconds vcpu1", "", mibOID(t, "cpuMilliseconds", web1, 2), gosnmp.Counter64, uint64(3000)},
		{"cpuState vcpu0 running", "", mibOID(t, "cpuState", web1, 1), gosnmp.Integer, 2},
		{"cpuState shut off", "", mibOID(t, "cpuState", idle, 1), gosnmp.Integer, 1},
		{"cpuMhz", "", mibOID(t, "cpuMhz", web1, 1), gosnmp.Gauge32, uint32(2400)},
		{"no third vcpu", "", mibOID(t, "cpuArch", web1, 3), gosnmp.NoSuchInstance, nil},
		{"storageTargetDevice", "", mibOID(t, "storageTargetDevice", web1, vda), gosnmp.OctetString, "vda"},
		{"storageDevice cdrom", "", mibOID(t, "storageDevice", web1, sda), gosnmp.Integer, 2},
		{"storageDiskImageIndex", "", mibOID(t, "storageDiskImageIndex", web1, vda), gosnmp.Gauge32, img},
		{"storageDiskImageIndex empty cdrom", "", mibOID(t, "storageDiskImageIndex", web1, sda), gosnmp.Gauge32, uint32(0)},
		{"storageReadBytes", "", mibOID(t, "storageReadBytes", web1, vda), gosnmp.Counter64, uint64(4096)},
		// The stats' allocation (2 GiB here) is QEMU's highest written offset, not the
		// space the image takes: the volume's.
		{"storageAllocation from the volume", "", mibOID(t, "storageAllocation", web1, vda), gosnmp.Counter64, uint64(1 << 30)},
		{"storageReadBytes host down", "", mibOID(t, "storageReadBytes", db1, dbDisk), gosnmp.NoSuchInstance, nil},
		{"diskImagePool", "", mibOID(t, "diskImagePool", img), gosnmp.OctetString, "default"},
		{"diskImageCapacity", "kvm1", mibOID(t, "diskImageCapacity", img), gosnmp.Counter64, uint64(10 << 30)},
		{"networkMacAddress", "", mibOID(t, "networkMacAddress", web1, nic), gosnmp.OctetString, []byte{0x52, 0x54, 0, 0xaa, 0xbb, 1}},
		{"networkSourceType bridge", "", mibOID(t, "networkSourceType", web1, nic), gosnmp.Integer, 2},
		{"networkTargetDevice", "", mibOID(t, "networkTargetDevice", web1, nic), gosnmp.OctetString, "vnet0"},
		{"networkInOctets", "", mibOID(t, "networkInOctets", web1, nic), gosnmp.Counter64, uint64(1000)},
		{"networkOutPackets", "", mibOID(t, "networkOutPackets", web1, nic), gosnmp.Counter64, uint64(20)},
		{"networkInOctets host down", "", mibOID(t, "networkInOctets", db1, dbNIC), gosnmp.NoSuchInstance, nil},
		{"hbaType", "", mibOID(t, "hbaType", web1, scsi), gosnmp.OctetString, "scsi"},
		{"hbaModel", "", mibOID(t, "hbaModel", web1, usb), gosnmp.OctetString, "qemu-xhci"},
		{"osName", "", mibOID(t, "osName", os1), gosnmp.OctetString, "Debian GNU/Linux"},
		{"kernelInitrd", "", mibOID(t, "kernelInitrd", k1), gosnmp.OctetString, "/boot/initrd.img"},
		{"kernel of another context", "kvm2", mibOID(t, "kernelInitrd", k1), gosnmp.NoSuchInstance, nil},
		{"no templates", "", mibOID(t, "virtualMachineTemplate", 0), gosnmp.Gauge32, uint32(0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vb := h.Get(context.Background(), &snmp.Request{Context: tc.ctx}, tc.oid)
			if vb.Type != tc.typ || !mibtest.SameValue(vb.Value, tc.val) {
				t.Errorf("GET %v = %v %#v, want %v %#v", tc.oid, vb.Type, vb.Value, tc.typ, tc.val)
			}
		})
	}
	t.Run("vmIndexNext is free", func(t *testing.T) {
		vb := h.Get(context.Background(), &snmp.Request{}, mibOID(t, "vmIndexNext", 0))
		n, _ := vb.Value.(uint32)
		if vb.Type != gosnmp.Gauge32 || n <= max(web1, idle, db1) {
			t.Errorf("vmIndexNext = %v %v, want a vmId above every VM's", vb.Type, vb.Value)
		}
	})
	t.Run("storageIndexNext is free", func(t *testing.T) {
		vb := h.Get(context.Background(), &snmp.Request{}, mibOID(t, "storageIndexNext", 0))
		n, _ := vb.Value.(uint32)
		if vb.Type != gosnmp.Gauge32 || n == 0 {
			t.Fatalf("storageIndexNext = %v %v, want a storageIndex", vb.Type, vb.Value)
		}
		for _, vm := range []uint32{web1, idle, db1} {
			if row := h.Get(context.Background(), &snmp.Request{}, mibOID(t, "storageRowStatus", vm, n)); row.Type != gosnmp.NoSuchInstance {
				t.Errorf("storageIndexNext %d is taken by vmId %d", n, vm)
			}
		}
	})
	t.Run("vmUptime running", func(t *testing.T) {
		vb := h.Get(context.Background(), &snmp.Request{}, mibOID(t, "vmUptime", web1))
		if vb.Type != gosnmp.TimeTicks {
			t.Errorf("vmUptime = %v %v", vb.Type, vb.Value)
		}
	})
}

// TestMIBViewWalkContexts walks the module in every context: strictly increasing,
// every VM row of a host context on that host, no counters of the down host.
func TestMIBViewWalkContexts(t *testing.T) {
	v, h := mibFixture(t)
	db1 := vmIDOf(t, v, "db1")
	counters := mibOID(t, "vmCpuMilliseconds", db1)
	vmHost, _ := mib.Lookup("vmHost")
	for ctx, vms := range map[string]int{"": 3, "kvm1": 2, "kvm2": 1} {
		t.Run("context="+ctx, func(t *testing.T) {
			cur, n, hostsSeen := snmp.OID{1}, 0, 0
			for {
				vb, ok := h.Next(context.Background(), &snmp.Request{Context: ctx}, cur)
				if !ok {
					break
				}
				if vb.OID.Compare(cur) <= 0 {
					t.Fatalf("Next(%v) = %v: not increasing", cur, vb.OID)
				}
				if vb.OID.Compare(counters) == 0 {
					t.Errorf("walk shows %v of a VM whose host is down", vb.OID)
				}
				if vb.OID.HasPrefix(vmHost) {
					hostsSeen++
					if ctx != "" && vb.Value != ctx {
						t.Errorf("context %q shows a VM of %v", ctx, vb.Value)
					}
				}
				cur = vb.OID
				if n++; n > 5000 {
					t.Fatal("walk does not end")
				}
			}
			if hostsSeen != vms {
				t.Errorf("%d VMs, want %d", hostsSeen, vms)
			}
		})
	}
}

// TestMIBViewTemplates: virtualMachineTemplateTable lists the template directory's XML
// files, the same in every context, and the scalars show the store's current choice.
func TestMIBViewTemplates(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	for name, xml := range map[string]string{
		"small.xml": `<domain type="kvm"><name>small</name><memory unit="MiB">512</memory><vcpu>1</vcpu></domain>`,
		"big.xml":   `<domain type="kvm"><name>big</name><memory unit="GiB">4</memory><vcpu current="2">4</vcpu></domain>`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(xml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logger := slog.New(slog.DiscardHandler)
	v, reg := viewtest.Open(t, filepath.Join(state, "indexes.json"))
	v.SetHosts([]view.HostSpec{{Name: "kvm1", URI: "test:///default"}})
	tpl, err := templates.OpenFiles(dir, state, reg, logger)
	if err != nil {
		t.Fatal(err)
	}
	rows := tpl.List()
	if len(rows) != 2 {
		t.Fatalf("store lists %d templates, want 2", len(rows))
	}
	if err := tpl.SetCurrent(rows[1].Index, 0); err != nil {
		t.Fatal(err)
	}
	h := mib.NewHandler(mibview.New(v, reg, tpl))
	for _, ctx := range []string{"", "kvm1"} {
		r := &snmp.Request{Context: ctx}
		got := map[string]any{}
		for _, row := range rows {
			for _, col := range []string{"domainTemplateName", "templateMemoryMb", "templateXmlFile", "templateRowStatus"} {
				vb := h.Get(context.Background(), r, mibOID(t, col, row.Index))
				got[row.Name+"/"+col] = vb.Value
			}
		}
		want := map[string]any{
			"small/domainTemplateName": "small", "small/templateMemoryMb": uint32(512),
			"small/templateXmlFile": filepath.Join(dir, "small.xml"), "small/templateRowStatus": 1,
			"big/domainTemplateName": "big", "big/templateMemoryMb": uint32(4096),
			"big/templateXmlFile": filepath.Join(dir, "big.xml"), "big/templateRowStatus": 1,
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("context %q: %s = %#v, want %#v", ctx, k, got[k], w)
			}
		}
		vb := h.Get(context.Background(), r, mibOID(t, "virtualMachineTemplate", 0))
		if vb.Value != rows[1].Index {
			t.Errorf("context %q: virtualMachineTemplate = %v, want %d", ctx, vb.Value, rows[1].Index)
		}
	}
}

// TestMIBViewOldCounters: a connected host whose last poll is older than three stats
// intervals shows its VMs' state, but no counters.
func TestMIBViewOldCounters(t *testing.T) {
	v, reg := viewtest.Open(t, filepath.Join(t.TempDir(), "indexes.json"))
	v.SetHosts([]view.HostSpec{{Name: "h", URI: "test:///default", StatsInterval: time.Second}})
	v.Health("h", hosts.Health{Status: hosts.Up, Since: time.Now()})
	d := hosts.Domain{UUID: hosts.UUID{1}, Name: "old", ID: 1, State: hosts.StateRunning, VCPUs: 1, MemoryKiB: 1024}
	v.Synced("h", hosts.Inventory{Domains: []hosts.Domain{d}})
	v.Stats("h", hosts.NewStats(time.Now().Add(-time.Hour), []hosts.DomainStats{
		{UUID: d.UUID, CPUTimeNs: 1e9, HasBalloon: true, BalloonRSSKiB: 5}}))
	h := mib.NewHandler(mibview.New(v, reg, nil))
	id := vmIDOf(t, v, "old")
	for _, tc := range []struct {
		col string
		idx []uint32
		typ gosnmp.Asn1BER
		val any
	}{
		{"vmState", []uint32{id}, gosnmp.Integer, 2},
		{"vmCpuMilliseconds", []uint32{id}, gosnmp.NoSuchInstance, nil},
		{"memoryRssKB", []uint32{id}, gosnmp.Gauge32, uint32(0)},
		{"cpuMilliseconds", []uint32{id, 1}, gosnmp.NoSuchInstance, nil},
		{"cpuState", []uint32{id, 1}, gosnmp.NoSuchInstance, nil},
	} {
		vb := h.Get(context.Background(), &snmp.Request{}, mibOID(t, tc.col, tc.idx...))
		if vb.Type != tc.typ || vb.Value != tc.val {
			t.Errorf("%s = %v %#v, want %v %#v", tc.col, vb.Type, vb.Value, tc.typ, tc.val)
		}
	}
}

// TestImageSizeFromStats: an image outside pools shows its running domain's latest
// stats capacity (a live resize), and the domain read's capacity once the domain stops.
// Its allocation is always the domain read's: the stats' is QEMU's highest written
// offset, not the space the image takes.
func TestImageSizeFromStats(t *testing.T) {
	v := viewtest.New(t, "h")
	now := v.Clock.Now()
	d := hosts.Domain{UUID: hosts.UUID{0x33, 15: 1}, Name: "grow", ID: 2, State: hosts.StateRunning, OSType: "hvm",
		Disks: []hosts.Disk{{Device: "disk", Type: "file", Bus: "virtio", Target: "vda", Source: "/srv/grow.qcow2",
			Format: "qcow2", Capacity: 8 << 30, Allocation: 100 << 20}}}
	v.Synced("h", hosts.Inventory{Domains: []hosts.Domain{d}})
	h := mib.NewHandler(mibview.New(v.View, v.Reg, nil))
	w, _ := v.Read().VM("", vmIDOf(t, v.View, "grow"))
	img, vda := w.Disks[0].DiskImageIndex, w.Disks[0].StorageIndex
	get := func(name string, idx ...uint32) any {
		t.Helper()
		vb := h.Get(context.Background(), &snmp.Request{}, mibOID(t, name, idx...))
		if vb.Type != gosnmp.Counter64 {
			t.Fatalf("%s = %v %v", name, vb.Type, vb.Value)
		}
		return vb.Value
	}
	check := func(when string, capacity uint64) {
		t.Helper()
		if got := get("diskImageCapacity", img); got != capacity {
			t.Errorf("%s: diskImageCapacity %v, want %d", when, got, capacity)
		}
		if got := get("storageCapacity", w.VMID, vda); got != capacity {
			t.Errorf("%s: storageCapacity %v, want %d", when, got, capacity)
		}
		if got := get("diskImageAllocation", img); got != uint64(100<<20) {
			t.Errorf("%s: diskImageAllocation %v, want the domain read's %d", when, got, 100<<20)
		}
		if got := get("storageAllocation", w.VMID, vda); got != uint64(100<<20) {
			t.Errorf("%s: storageAllocation %v, want the domain read's %d", when, got, 100<<20)
		}
	}
	check("before any stats", 8<<30)
	v.Stats("h", hosts.NewStats(now, []hosts.DomainStats{{UUID: d.UUID,
		State: hosts.StateRunning, Blocks: []hosts.BlockStats{{Name: "vda", Capacity: 9 << 30, Allocation: 0, Physical: 600 << 20}}}}))
	check("running, resized", 9<<30)
	v.Stats("h", &hosts.Stats{At: now}) // no longer running
	check("stopped", 8<<30)
}

// TestHypervisorLastErrorElided: a wrapped libvirt error is longer than the column's
// 255 octets; its start says what was being done, its end the cause. Both must stay.
func TestHypervisorLastErrorElided(t *testing.T) {
	v, h := mibFixture(t)
	kvm2, _ := v.Read().Host("kvm2")
	head := "resync: ssh: 10.213.0.6:22: open remote socket "
	tail := ": ssh: rejected: administratively prohibited (open failed)"
	long := head + strings.Repeat("/very/long/path", 30) + "/libvirt-sock" + tail
	short := strings.Repeat("é", 127) // 254 octets: fits, kept whole
	for _, tc := range []struct{ name, in string }{{"long", long}, {"fits", short}} {
		t.Run(tc.name, func(t *testing.T) {
			v.Health("kvm2", hosts.Health{Status: hosts.Down, LastError: tc.in})
			vb := h.Get(context.Background(), &snmp.Request{}, mibOID(t, "hypervisorLastError", kvm2.Index))
			got := fmt.Sprint(vb.Value)
			if b, ok := vb.Value.([]byte); ok {
				got = string(b)
			}
			switch {
			case len(got) > 255 || !utf8.ValidString(got):
				t.Errorf("hypervisorLastError is %d octets or not UTF-8: %q", len(got), got)
			case len(tc.in) <= 255 && got != tc.in:
				t.Errorf("hypervisorLastError = %q, want it whole", got)
			case len(tc.in) > 255 && (!strings.HasPrefix(got, head) || !strings.HasSuffix(got, tail) || !strings.Contains(got, "...")):
				t.Errorf("hypervisorLastError = %q, want the head %q, an ellipsis and the tail %q", got, head, tail)
			}
		})
	}
}
