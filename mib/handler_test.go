package mib_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/mib/mibtest"
	"github.com/vmgate/vmgate/snmp"
)

var (
	uuid1 = [16]byte{0x11, 1: 1, 15: 1}
	uuid2 = [16]byte{0x22, 1: 2, 15: 2}
	uuid5 = [16]byte{0x55, 1: 5, 15: 5}
	sync1 = time.Date(2026, 11, 23, 19, 0, 5, 0, time.UTC)
)

// fixture: kvm1 (connected) runs web1 (vmId 1) and has idle (vmId 5) shut off; kvm2
// (disconnected) had db1 (vmId 2). The merged context shows all three.
func fixture() *mibtest.View {
	kvm1 := mib.HypervisorRow{Index: 1, Name: "kvm1", URI: "qemu+ssh://root@kvm1/system",
		Type: "QEMU", Version: 8002000, LibvirtVersion: 10000000, Hostname: "kvm1.example.net",
		CPUModel: "x86_64", CPUs: 8, MHz: 2400, MemoryKiB: 16 << 20, Conn: mib.ConnConnected,
		LastSync: sync1, LastSyncTook: 1500 * time.Millisecond, VMCount: 2}
	kvm2 := mib.HypervisorRow{Index: 2, Name: "kvm2", URI: "test:///default", Conn: mib.ConnDisconnected,
		LastError: "connection refused", VMCount: 1}
	hv := []mib.HypervisorRow{kvm1, kvm2}

	web1 := mib.VMRow{ID: 1, UUID: uuid1, Name: "web1", Host: "kvm1", OSIndex: 1, State: mib.StateRunning,
		ConfDir: "/etc/libvirt/qemu", Autostart: true, Persistent: true, Uptime: 90 * time.Second,
		VCPUs: 2, MaxVCPUs: 4, MemoryKiB: 1 << 20, MaxMemKiB: 2 << 20, Counters: true,
		CPUTimeNs: 5_000_000_000, UsedKiB: 300000, FreeKiB: 700000, BalloonKiB: 1 << 20, RSSKiB: 400000}
	db1 := mib.VMRow{ID: 2, UUID: uuid2, Name: "db1", Host: "kvm2", OSIndex: 2, State: mib.StateRunning,
		Stale: true, Persistent: true, VCPUs: 1, MaxVCPUs: 1, MemoryKiB: 512 << 10, MaxMemKiB: 512 << 10,
		CPUTimeNs: 7_000_000_000, UsedKiB: 1, RSSKiB: 2}
	idle := mib.VMRow{ID: 5, UUID: uuid5, Name: "idle", Host: "kvm1", OSIndex: 2, KernelIndex: 1,
		State: mib.StateShutoff, VCPUs: 1, MaxVCPUs: 1, MemoryKiB: 256 << 10, MaxMemKiB: 256 << 10, Counters: true}

	cpus := map[string][]mib.CPURow{
		"kvm1": {
			{VMID: 1, Index: 1, UUID: uuid1, Arch: "x86_64", MHz: 2400, State: mib.CPURunning, Counters: true, TimeNs: 2_000_000_000},
			{VMID: 1, Index: 2, UUID: uuid1, Arch: "x86_64", MHz: 2400, State: mib.CPUBlocked, Counters: true, TimeNs: 3_000_000_000},
			{VMID: 5, Index: 1, UUID: uuid5, Arch: "x86_64", MHz: 2400, State: mib.CPUOffline, Counters: true},
		},
		"kvm2": {{VMID: 2, Index: 1, UUID: uuid2, Arch: "x86_64"}},
	}
	storage := map[string][]mib.StorageRow{
		"kvm1": {
			{VMID: 1, Index: 1, UUID: uuid1, Device: mib.DeviceDisk, DiskImageIndex: 1, Target: "vda", Bus: "virtio",
				Capacity: 10 << 30, Allocation: 2 << 30, Counters: true, ReadReqs: 10, ReadBytes: 4096, WriteReqs: 20, WriteBytes: 8192},
			{VMID: 5, Index: 2, UUID: uuid5, Device: mib.DeviceCdRom, Target: "sda", Bus: "sata", Counters: true},
		},
		"kvm2": {{VMID: 2, Index: 1, UUID: uuid2, Device: mib.DeviceDisk, DiskImageIndex: 2, Target: "vda", Bus: "virtio",
			Capacity: 1 << 30, ReadBytes: 99}},
	}
	images := map[string][]mib.DiskImageRow{
		"kvm1": {{Index: 1, Path: "/var/lib/libvirt/images/web1.qcow2", Host: "kvm1", Pool: "default", Name: "web1.qcow2",
			Format: "qcow2", Capacity: 10 << 30, Allocation: 2 << 30}},
		"kvm2": {{Index: 2, Path: "/srv/db1.raw", Host: "kvm2", Name: "db1.raw", Format: "raw", Capacity: 1 << 30}},
	}
	nets := map[string][]mib.NetworkRow{
		"kvm1": {{VMID: 1, Index: 1, UUID: uuid1, MAC: [6]byte{0x52, 0x54, 0, 0, 0, 1}, Model: "virtio",
			SourceType: mib.SourceBridge, Source: "br0", Target: "vnet0", Counters: true,
			InOctets: 1000, InPackets: 10, OutOctets: 2000, OutPackets: 20}},
		"kvm2": {{VMID: 2, Index: 3, UUID: uuid2, MAC: [6]byte{0x52, 0x54, 0, 0, 0, 2}, SourceType: mib.SourceNetwork,
			Source: "default", InOctets: 5}},
	}
	addrs := map[string][]mib.NetworkAddressRow{
		"kvm1": {
			{VMID: 1, NetworkIndex: 1, Addr: netip.MustParseAddr("192.0.2.10"), PrefixLength: 24, Source: mib.AddrLease},
			{VMID: 1, NetworkIndex: 1, Addr: netip.MustParseAddr("fe80::5054:ff:fe00:1"), PrefixLength: 64, Source: mib.AddrAgent},
		},
	}
	hbas := map[string][]mib.HBARow{
		"kvm1": {
			{VMID: 1, Index: 1, UUID: uuid1, Type: "scsi", Model: "virtio-scsi"},
			{VMID: 1, Index: 2, UUID: uuid1, Type: "usb", Model: "qemu-xhci"},
		},
	}
	oses := map[string][]mib.OSRow{
		"kvm1": {{Index: 1, OSInfoID: "http://debian.org/debian/12", OSType: "hvm"}, {Index: 2, OSType: "hvm"}},
		"kvm2": {{Index: 2, OSType: "hvm"}},
	}
	kernels := map[string][]mib.KernelRow{
		"kvm1": {{Index: 1, Path: "/boot/vmlinuz", Initrd: "/boot/initrd.img", Cmdline: "console=ttyS0"}},
	}
	templates := []mib.TemplateRow{{Index: 1, Name: "small", MemoryMiB: 512, VCPUs: 1, XMLFile: "/etc/vmgate/templates/small.xml",
		Status: mib.RowActive}}

	data := func(host *mib.HypervisorRow, vms []mib.VMRow, hosts ...string) *mibtest.Data {
		d := &mibtest.Data{Host: host, Hypervisors: hv, VMs: vms, Templates: templates,
			IndexNext: 6, StorageIndexNext: 9, Template: 1}
		for _, h := range hosts {
			d.CPUs = append(d.CPUs, cpus[h]...)
			d.Storage = append(d.Storage, storage[h]...)
			d.Images = append(d.Images, images[h]...)
			d.Networks = append(d.Networks, nets[h]...)
			d.Addresses = append(d.Addresses, addrs[h]...)
			d.HBAs = append(d.HBAs, hbas[h]...)
			d.Kernels = append(d.Kernels, kernels[h]...)
		}
		for _, h := range hosts { // OS rows are distinct per context
			for _, o := range oses[h] {
				if !containsOS(d.OSes, o.Index) {
					d.OSes = append(d.OSes, o)
				}
			}
		}
		return d
	}
	merged := data(nil, []mib.VMRow{web1, db1, idle}, "kvm1", "kvm2")
	merged.Replicas = []mib.ReplicaRow{ // the merged context only, as the gateway's view
		{Index: 3, Name: "gw-b", Addresses: "udp:192.0.2.2:161"}, // never heard of: no state, no heartbeat
		{Index: 1, Name: "gw-a", Addresses: "udp:192.0.2.1:161 udp6:[2001:db8::1]:161", State: mib.ReplicaDegraded,
			UpSince: sync1, LastHeartbeat: sync1.Add(3 * time.Second)},
	}
	return mibtest.New(map[string]*mibtest.Data{
		"":     merged,
		"kvm1": data(&kvm1, []mib.VMRow{web1, idle}, "kvm1"),
		"kvm2": data(&kvm2, []mib.VMRow{db1}, "kvm2"),
	})
}

func containsOS(rows []mib.OSRow, idx uint32) bool {
	for _, r := range rows {
		if r.Index == idx {
			return true
		}
	}
	return false
}

// oid returns the instance of a named object: name.idx...
func oid(t testing.TB, name string, idx ...uint32) snmp.OID {
	t.Helper()
	o, ok := mib.Lookup(name)
	if !ok {
		t.Fatalf("no object %q", name)
	}
	return o.Append(idx...)
}

func req(ctx string) *snmp.Request { return &snmp.Request{Context: ctx} }

func TestGet(t *testing.T) {
	h := mib.NewHandler(fixture())
	tests := []struct {
		name string
		ctx  string
		oid  snmp.OID
		typ  gosnmp.Asn1BER
		val  any
	}{
		{"vmmName in host context", "kvm1", oid(t, "vmmName", 0), gosnmp.OctetString, "QEMU"},
		{"vmmVersion", "kvm1", oid(t, "vmmVersion", 0), gosnmp.Gauge32, uint32(8002000)},
		{"vmmVersionString", "kvm1", oid(t, "vmmVersionString", 0), gosnmp.OctetString, "8.2.0"},
		{"vmmName merged: no instance", "", oid(t, "vmmName", 0), gosnmp.NoSuchInstance, nil},
		{"vmmName without .0", "kvm1", oid(t, "vmmName"), gosnmp.NoSuchInstance, nil},
		{"vmIndexNext", "", oid(t, "vmIndexNext", 0), gosnmp.Gauge32, uint32(6)},
		{"storageIndexNext", "", oid(t, "storageIndexNext", 0), gosnmp.Gauge32, uint32(9)},
		{"virtualMachineTemplate", "kvm2", oid(t, "virtualMachineTemplate", 0), gosnmp.Gauge32, uint32(1)},
		{"storageTemplate", "", oid(t, "storageTemplate", 0), gosnmp.Gauge32, uint32(0)},

		{"hypervisorName", "", oid(t, "hypervisorName", 2), gosnmp.OctetString, "kvm2"},
		{"hypervisorUri", "", oid(t, "hypervisorUri", 1), gosnmp.OctetString, "qemu+ssh://root@kvm1/system"},
		{"hypervisorVersionString", "", oid(t, "hypervisorVersionString", 1), gosnmp.OctetString, "8.2.0"},
		{"hypervisorLibvirtVersion", "", oid(t, "hypervisorLibvirtVersion", 1), gosnmp.OctetString, "10.0.0"},
		{"hypervisorMemoryMb", "", oid(t, "hypervisorMemoryMb", 1), gosnmp.Gauge32, uint32(16384)},
		{"hypervisorConnState down", "", oid(t, "hypervisorConnState", 2), gosnmp.Integer, 3},
		{"hypervisorLastSync", "", oid(t, "hypervisorLastSync", 1), gosnmp.OctetString, []byte{0x07, 0xea, 11, 23, 19, 0, 5, 0}},
		{"hypervisorLastSync never", "", oid(t, "hypervisorLastSync", 2), gosnmp.OctetString, []byte{0, 0, 1, 1, 0, 0, 0, 0}},
		{"hypervisorLastSyncDuration", "", oid(t, "hypervisorLastSyncDuration", 1), gosnmp.Gauge32, uint32(1500)},
		{"hypervisorTable in a host context", "kvm2", oid(t, "hypervisorName", 1), gosnmp.OctetString, "kvm1"},

		{"vmUUID", "", oid(t, "vmUUID", 1), gosnmp.OctetString, uuid1[:]},
		{"vmUUIDText", "", oid(t, "vmUUIDText", 1), gosnmp.OctetString, "11010000-0000-0000-0000-000000000001"},
		{"vmName", "kvm1", oid(t, "vmName", 5), gosnmp.OctetString, "idle"},
		{"vmState running", "", oid(t, "vmState", 1), gosnmp.Integer, 2},
		{"vmState stale host: unknown", "", oid(t, "vmState", 2), gosnmp.Integer, 9},
		{"vmConfFile", "", oid(t, "vmConfFile", 1), gosnmp.OctetString, "/etc/libvirt/qemu/web1.xml"},
		{"vmConfFile transient", "", oid(t, "vmConfFile", 5), gosnmp.OctetString, ""},
		{"vmKernelIndex", "", oid(t, "vmKernelIndex", 5), gosnmp.Gauge32, uint32(1)},
		{"vmRowStatus", "", oid(t, "vmRowStatus", 5), gosnmp.Integer, 1},
		{"vmHost", "", oid(t, "vmHost", 2), gosnmp.OctetString, "kvm2"},
		{"vmAutostart", "", oid(t, "vmAutostart", 1), gosnmp.Integer, 1},
		{"vmPersistent false", "", oid(t, "vmPersistent", 5), gosnmp.Integer, 2},
		{"vmUptime", "", oid(t, "vmUptime", 1), gosnmp.TimeTicks, uint32(9000)},
		{"vmVcpusMax", "", oid(t, "vmVcpusMax", 1), gosnmp.Gauge32, uint32(4)},
		{"vmMemoryMb", "", oid(t, "vmMemoryMb", 1), gosnmp.Gauge32, uint32(1024)},
		{"vmCpuMilliseconds", "", oid(t, "vmCpuMilliseconds", 1), gosnmp.Counter64, uint64(5000)},
		{"vmCpuMilliseconds stale", "", oid(t, "vmCpuMilliseconds", 2), gosnmp.NoSuchInstance, nil},
		{"vm of another host's context", "kvm1", oid(t, "vmName", 2), gosnmp.NoSuchInstance, nil},

		{"memoryTotalMb", "", oid(t, "memoryTotalMb", 2), gosnmp.Gauge32, uint32(512)},
		{"memoryUsedKB", "", oid(t, "memoryUsedKB", 1), gosnmp.Gauge32, uint32(300000)},
		{"memoryUsedKB stale reads 0", "", oid(t, "memoryUsedKB", 2), gosnmp.Gauge32, uint32(0)},
		{"memoryRssKB stale reads 0", "kvm2", oid(t, "memoryRssKB", 2), gosnmp.Gauge32, uint32(0)},
		{"memoryMaxKB", "", oid(t, "memoryMaxKB", 1), gosnmp.Gauge32, uint32(2 << 20)},

		{"cpuMilliseconds", "", oid(t, "cpuMilliseconds", 1, 2), gosnmp.Counter64, uint64(3000)},
		{"cpuState", "", oid(t, "cpuState", 1, 2), gosnmp.Integer, 3},
		{"cpuState unknown", "", oid(t, "cpuState", 2, 1), gosnmp.NoSuchInstance, nil},
		{"cpuArch", "", oid(t, "cpuArch", 2, 1), gosnmp.OctetString, "x86_64"},
		{"cpu row that does not exist", "", oid(t, "cpuArch", 1, 3), gosnmp.NoSuchInstance, nil},

		{"storageDevice cdRom", "", oid(t, "storageDevice", 5, 2), gosnmp.Integer, 2},
		{"storageDiskImageIndex", "", oid(t, "storageDiskImageIndex", 1, 1), gosnmp.Gauge32, uint32(1)},
		{"storageCapacity", "", oid(t, "storageCapacity", 1, 1), gosnmp.Counter64, uint64(10 << 30)},
		{"storageCapacity stale (a gauge)", "", oid(t, "storageCapacity", 2, 1), gosnmp.Counter64, uint64(1 << 30)},
		{"storageReadBytes", "", oid(t, "storageReadBytes", 1, 1), gosnmp.Counter64, uint64(4096)},
		{"storageReadBytes stale", "", oid(t, "storageReadBytes", 2, 1), gosnmp.NoSuchInstance, nil},

		{"diskImagePath", "", oid(t, "diskImagePath", 2), gosnmp.OctetString, "/srv/db1.raw"},
		{"diskImagePool", "kvm1", oid(t, "diskImagePool", 1), gosnmp.OctetString, "default"},
		{"diskImage of another host", "kvm1", oid(t, "diskImagePath", 2), gosnmp.NoSuchInstance, nil},

		{"networkMacAddress", "", oid(t, "networkMacAddress", 1, 1), gosnmp.OctetString, []byte{0x52, 0x54, 0, 0, 0, 1}},
		{"networkSourceType", "", oid(t, "networkSourceType", 2, 3), gosnmp.Integer, 3},
		{"networkInOctets", "", oid(t, "networkInOctets", 1, 1), gosnmp.Counter64, uint64(1000)},
		{"networkInOctets stale", "", oid(t, "networkInOctets", 2, 3), gosnmp.NoSuchInstance, nil},
		{"networkAddressPrefixLength", "", oid(t, "networkAddressPrefixLength", 1, 1, 1, 4, 192, 0, 2, 10), gosnmp.Gauge32, uint32(24)},
		{"networkAddressSource", "kvm1", oid(t, "networkAddressSource", 1, 1, 1, 4, 192, 0, 2, 10), gosnmp.Integer, 1},
		{"networkAddressSource ipv6", "", oid(t, "networkAddressSource", 1, 1, 2, 16, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0, 0xff, 0xfe, 0, 0, 1),
			gosnmp.Integer, 2},
		{"networkAddress is an index", "", oid(t, "networkAddress", 1, 1, 1, 4, 192, 0, 2, 10), gosnmp.NoSuchObject, nil},
		{"networkAddressType is an index", "", oid(t, "networkAddressType", 1, 1, 1, 4, 192, 0, 2, 10), gosnmp.NoSuchObject, nil},
		{"address not there", "", oid(t, "networkAddressPrefixLength", 1, 1, 1, 4, 192, 0, 2, 11), gosnmp.NoSuchInstance, nil},
		{"address of another NIC", "", oid(t, "networkAddressPrefixLength", 1, 2, 1, 4, 192, 0, 2, 10), gosnmp.NoSuchInstance, nil},
		{"address octet above 255", "", oid(t, "networkAddressPrefixLength", 1, 1, 1, 4, 192, 0, 2, 266), gosnmp.NoSuchInstance, nil},
		{"address too short", "", oid(t, "networkAddressPrefixLength", 1, 1, 1, 4, 192, 0, 2), gosnmp.NoSuchInstance, nil},
		{"address too long", "", oid(t, "networkAddressPrefixLength", 1, 1, 1, 4, 192, 0, 2, 10, 0), gosnmp.NoSuchInstance, nil},
		{"address length not the type's", "", oid(t, "networkAddressPrefixLength", 1, 1, 1, 3, 192, 0, 2), gosnmp.NoSuchInstance, nil},
		{"address type ipv4z", "", oid(t, "networkAddressPrefixLength", 1, 1, 3, 4, 192, 0, 2, 10), gosnmp.NoSuchInstance, nil},
		{"address type 0", "", oid(t, "networkAddressPrefixLength", 1, 1, 0, 4, 192, 0, 2, 10), gosnmp.NoSuchInstance, nil},
		{"address vmId 0", "", oid(t, "networkAddressPrefixLength", 0, 1, 1, 4, 192, 0, 2, 10), gosnmp.NoSuchInstance, nil},
		{"address without index", "", oid(t, "networkAddressPrefixLength", 1, 1), gosnmp.NoSuchInstance, nil},

		{"hbaModel", "", oid(t, "hbaModel", 1, 2), gosnmp.OctetString, "qemu-xhci"},
		{"hbaControllerIndex", "", oid(t, "hbaControllerIndex", 1, 1), gosnmp.Gauge32, uint32(0)},

		{"osName", "", oid(t, "osName", 1), gosnmp.OctetString, "Debian GNU/Linux"},
		{"osVersion", "", oid(t, "osVersion", 1), gosnmp.OctetString, "12"},
		{"osFamily", "", oid(t, "osFamily", 1), gosnmp.OctetString, "linux"},
		{"osSource libosinfo", "", oid(t, "osSource", 1), gosnmp.Integer, 1},
		{"osName from OS type", "", oid(t, "osName", 2), gosnmp.OctetString, "hvm"},
		{"osSource osType", "", oid(t, "osSource", 2), gosnmp.Integer, 3},

		{"kernelCmdline", "", oid(t, "kernelCmdline", 1), gosnmp.OctetString, "console=ttyS0"},
		{"domainTemplateName", "kvm1", oid(t, "domainTemplateName", 1), gosnmp.OctetString, "small"},
		{"templateMemoryMb", "", oid(t, "templateMemoryMb", 1), gosnmp.Gauge32, uint32(512)},
		{"templateRowStatus", "", oid(t, "templateRowStatus", 1), gosnmp.Integer, 1},

		{"replicaName", "", oid(t, "replicaName", 1), gosnmp.OctetString, "gw-a"},
		{"replicaAddress", "", oid(t, "replicaAddress", 1), gosnmp.OctetString, "udp:192.0.2.1:161 udp6:[2001:db8::1]:161"},
		{"replicaRegistryState degraded", "", oid(t, "replicaRegistryState", 1), gosnmp.Integer, 2},
		{"replicaRegistryState unset: unknown", "", oid(t, "replicaRegistryState", 3), gosnmp.Integer, 3},
		{"replicaUpSince", "", oid(t, "replicaUpSince", 1), gosnmp.OctetString, []byte{0x07, 0xea, 11, 23, 19, 0, 5, 0}},
		{"replicaLastHeartbeat", "", oid(t, "replicaLastHeartbeat", 1), gosnmp.OctetString, []byte{0x07, 0xea, 11, 23, 19, 0, 8, 0}},
		{"replicaLastHeartbeat never", "", oid(t, "replicaLastHeartbeat", 3), gosnmp.OctetString, []byte{0, 0, 1, 1, 0, 0, 0, 0}},
		{"replica that does not exist", "", oid(t, "replicaName", 2), gosnmp.NoSuchInstance, nil},
		{"replicaIndex is an index", "", oid(t, "replicaIndex", 1), gosnmp.NoSuchObject, nil},
		{"replicaTable in a host context", "kvm1", oid(t, "replicaName", 1), gosnmp.NoSuchInstance, nil},

		{"index column: no such object", "", oid(t, "vmId", 1), gosnmp.NoSuchObject, nil},
		{"entry: no such object", "", oid(t, "virtualMachinesEntry"), gosnmp.NoSuchObject, nil},
		{"unknown column", "", oid(t, "virtualMachinesEntry", 99, 1), gosnmp.NoSuchObject, nil},
		{"index too long", "", oid(t, "vmName", 1, 1), gosnmp.NoSuchInstance, nil},
		{"index 0", "", oid(t, "vmName", 0), gosnmp.NoSuchInstance, nil},
		{"outside every object", "", mib.Root.Append(1, 99, 0), gosnmp.NoSuchObject, nil},
		{"unknown context", "nosuch", oid(t, "vmName", 1), gosnmp.NoSuchInstance, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vb := h.Get(context.Background(), req(tc.ctx), tc.oid)
			if vb.OID.Compare(tc.oid) != 0 {
				t.Errorf("OID %v, want %v", vb.OID, tc.oid)
			}
			if vb.Type != tc.typ || !mibtest.SameValue(vb.Value, tc.val) {
				t.Errorf("got %v %#v, want %v %#v", vb.Type, vb.Value, tc.typ, tc.val)
			}
		})
	}
}

// TestReplicaChangeVarBinds: replicaChange carries the row's values, instances
// .replicaIndex, in the order of the notification's OBJECTS.
func TestReplicaChangeVarBinds(t *testing.T) {
	tests := []struct {
		name  string
		row   mib.ReplicaRow
		state int
	}{
		{"joined", mib.ReplicaRow{Index: 4, Name: "gw-c", State: mib.ReplicaUp}, 1},
		{"left", mib.ReplicaRow{Index: 4, Name: "gw-c", State: mib.ReplicaUnknown}, 3},
		{"no state", mib.ReplicaRow{Index: 4, Name: "gw-c"}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vbs := mib.ReplicaChangeVarBinds(tc.row)
			if len(vbs) != len(mib.ReplicaChange.Objects) {
				t.Fatalf("%d varbinds, want %d", len(vbs), len(mib.ReplicaChange.Objects))
			}
			for i, name := range mib.ReplicaChange.Objects {
				if want := oid(t, name, 4); vbs[i].OID.Compare(want) != 0 {
					t.Errorf("varbind %d: %v, want %v", i, vbs[i].OID, want)
				}
			}
			if vbs[0].Type != gosnmp.OctetString || vbs[0].Value != "gw-c" {
				t.Errorf("replicaName: %v %v", vbs[0].Type, vbs[0].Value)
			}
			if vbs[1].Type != gosnmp.Integer || vbs[1].Value != tc.state {
				t.Errorf("replicaRegistryState: %v %v, want %d", vbs[1].Type, vbs[1].Value, tc.state)
			}
		})
	}
}

// TestNotificationsDropped: vmNotificationsDropped serves the notifier's count, in
// every context, as a Counter32 that wraps; 0 without WithNotificationsDropped.
func TestNotificationsDropped(t *testing.T) {
	n := uint64(1<<32 + 7)
	h := mib.NewHandler(fixture(), mib.WithNotificationsDropped(func() uint64 { return n }))
	for _, ctx := range []string{"", "kvm1"} {
		vb := h.Get(context.Background(), req(ctx), oid(t, "vmNotificationsDropped", 0))
		if vb.Type != gosnmp.Counter32 || vb.Value != uint32(7) {
			t.Errorf("context %q: vmNotificationsDropped.0 = %v %v, want Counter32 7", ctx, vb.Type, vb.Value)
		}
	}
	vb := mib.NewHandler(fixture()).Get(context.Background(), req(""), oid(t, "vmNotificationsDropped", 0))
	if vb.Type != gosnmp.Counter32 || vb.Value != uint32(0) {
		t.Errorf("without a count: %v %v, want Counter32 0", vb.Type, vb.Value)
	}
}
