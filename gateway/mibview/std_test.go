package mibview_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/gateway/mibview"
	"github.com/vmgate/vmgate/gateway/view/viewtest"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/mib/mibtest"
	"github.com/vmgate/vmgate/snmp"
)

// stdFixture: kvm1 (QEMU 8.2.0, 4 CPUs, up since the clock's start) has web (running,
// 2 vCPUs on CPUs 0-1, vCPU 1 pinned to CPU 3, four kinds of disk) and saving (paused
// by a save); kvm2 (never described) has gone (shut off after a crash). Ten minutes
// pass; the gateway started an hour before the clock.
func stdFixture(t *testing.T) (*viewtest.View, *mib.StdHandler, map[string]uint32) {
	t.Helper()
	tv := viewtest.New(t, "kvm1", "kvm2")
	start := tv.Clock.Now().Add(-time.Hour)
	web := viewtest.Domain(1, hosts.StateRunning)
	web.Name, web.VCPUs, web.MaxVCPUs = "web", 2, 4
	web.CPUSet, web.VCPUPins = hosts.CPUSet{0, 1}, []hosts.VCPUPin{{VCPU: 1, CPUs: hosts.CPUSet{3}}}
	web.Disks = []hosts.Disk{
		{Device: "disk", Type: "file", Bus: "virtio", Target: "vda", Source: "/img/web.qcow2", Format: "qcow2"},
		{Device: "cdrom", Type: "file", Bus: "sata", Target: "sda", Source: "/iso/d.iso", Format: "raw", ReadOnly: true},
		{Device: "disk", Type: "block", Bus: "scsi", Target: "sdb", Source: "/dev/sdz", Format: "raw"},
		{Device: "lun", Type: "network", Bus: "scsi", Target: "sdc", Source: "iqn.2026-01.net.example:t/1"},
	}
	saving := viewtest.Domain(2, hosts.StatePaused)
	saving.Reason, saving.VCPUs = 3, 1 // VIR_DOMAIN_PAUSED_SAVE
	gone := viewtest.Domain(3, hosts.StateShutoff)
	gone.Reason = 3 // VIR_DOMAIN_SHUTOFF_CRASHED
	tv.Synced("kvm1", hosts.Inventory{
		Hypervisor: hosts.Hypervisor{Type: "QEMU", Version: 8002000, Node: hosts.NodeInfo{CPUs: 4}},
		Domains:    []hosts.Domain{web, saving}})
	tv.Synced("kvm2", hosts.Inventory{Domains: []hosts.Domain{gone}})
	tv.Clock.Add(10 * time.Minute)
	h := mib.NewStdHandler(mibview.New(tv.View, tv.Reg, nil, mibview.WithAgent("1.2.3", start)), nil)
	ids := viewtest.VMIDs(t, tv.Read(), "")
	return tv, h, map[string]uint32{"web": ids[web.UUID], "saving": ids[saving.UUID], "gone": ids[gone.UUID]}
}

func stdOID(t *testing.T, name string, idx ...uint32) snmp.OID {
	t.Helper()
	o, ok := mib.StdLookup(name)
	if !ok {
		t.Fatalf("no VM-MIB object %q", name)
	}
	return o.Append(idx...)
}

func TestStdView(t *testing.T) {
	tv, h, id := stdFixture(t)
	web, saving, gone := id["web"], id["saving"], id["gone"]
	r, _ := tv.Read().VM("", web)
	vda, sda, sdb, sdc := r.Disks[0].StorageIndex, r.Disks[1].StorageIndex, r.Disks[2].StorageIndex, r.Disks[3].StorageIndex
	mibtest.CheckGets(t, h, []mibtest.GetCase{
		{"vmHvSoftware host", "kvm1", stdOID(t, "vmHvSoftware", 0), gosnmp.OctetString, "QEMU"},
		{"vmHvVersion host", "kvm1", stdOID(t, "vmHvVersion", 0), gosnmp.OctetString, "8.2.0"},
		{"vmHvVersion merged: the gateway's", "", stdOID(t, "vmHvVersion", 0), gosnmp.OctetString, "1.2.3"},
		{"vmHvUpTime host: the session", "kvm1", stdOID(t, "vmHvUpTime", 0), gosnmp.TimeTicks, uint32(60000)},
		{"vmHvUpTime merged: the gateway", "", stdOID(t, "vmHvUpTime", 0), gosnmp.TimeTicks, uint32(420000)},
		{"vmTableLastChange host: its first sync", "kvm1", stdOID(t, "vmTableLastChange", 0), gosnmp.TimeTicks, uint32(0)},
		{"vmTableLastChange merged", "", stdOID(t, "vmTableLastChange", 0), gosnmp.TimeTicks, uint32(360000)},
		{"vmNumber merged", "", stdOID(t, "vmNumber", 0), gosnmp.Integer, 3},
		{"vmNumber host", "kvm2", stdOID(t, "vmNumber", 0), gosnmp.Integer, 1},
		{"vmOperState running", "", stdOID(t, "vmOperState", web), gosnmp.Integer, 4},
		{"vmOperState saving", "", stdOID(t, "vmOperState", saving), gosnmp.Integer, 5},
		{"vmAdminState saving", "", stdOID(t, "vmAdminState", saving), gosnmp.Integer, 2},
		{"vmOperState crashed", "kvm2", stdOID(t, "vmOperState", gone), gosnmp.Integer, 12},
		{"vmAdminState crashed", "kvm2", stdOID(t, "vmAdminState", gone), gosnmp.Integer, 4},
		{"vmOSType", "", stdOID(t, "vmOSType", web), gosnmp.OctetString, "hvm"},
		{"vmCpuAffinity in the cpuset", "", stdOID(t, "vmCpuAffinity", web, 1, 2), gosnmp.Integer, 1},
		{"vmCpuAffinity outside the cpuset", "", stdOID(t, "vmCpuAffinity", web, 1, 3), gosnmp.Integer, 2},
		{"vmCpuAffinity pinned", "", stdOID(t, "vmCpuAffinity", web, 2, 4), gosnmp.Integer, 1},
		{"vmCpuAffinity pinned elsewhere", "", stdOID(t, "vmCpuAffinity", web, 2, 1), gosnmp.Integer, 2},
		{"vmCpuAffinity no such host CPU", "", stdOID(t, "vmCpuAffinity", web, 1, 5), gosnmp.NoSuchInstance, nil},
		{"vmCpuAffinity unpinned VM", "kvm1", stdOID(t, "vmCpuAffinity", saving, 1, 4), gosnmp.Integer, 1},
		{"vmCpuAffinity host CPUs unknown", "", stdOID(t, "vmCpuAffinity", gone, 1, 1), gosnmp.NoSuchInstance, nil},
		{"qcow2 file: sparse", "", stdOID(t, "vmStorageSourceType", web, vda), gosnmp.Integer, 5},
		{"raw file: raw", "", stdOID(t, "vmStorageSourceType", web, sda), gosnmp.Integer, 4},
		{"block", "", stdOID(t, "vmStorageSourceType", web, sdb), gosnmp.Integer, 3},
		{"network", "", stdOID(t, "vmStorageSourceType", web, sdc), gosnmp.Integer, 6},
		{"format", "", stdOID(t, "vmStorageSourceTypeString", web, vda), gosnmp.OctetString, "qcow2"},
		{"resource", "", stdOID(t, "vmStorageResourceID", web, sdb), gosnmp.OctetString, "/dev/sdz"},
		{"readonly", "", stdOID(t, "vmStorageAccess", web, sda), gosnmp.Integer, 3},
		{"cdrom: optical", "", stdOID(t, "vmStorageMediaType", web, sda), gosnmp.Integer, 4},
		{"lun: other", "", stdOID(t, "vmStorageMediaType", web, sdc), gosnmp.Integer, 1},
		{"size unknown", "", stdOID(t, "vmStorageDefinedSize", web, vda), gosnmp.Integer, -1},
		{"bus", "", stdOID(t, "vmStorageMediaTypeString", web, sdb), gosnmp.OctetString, "scsi"},
	})

	// A walk of vmCpuAffinity: every vCPU of every VM whose host's CPUs are known, by
	// each host CPU, in index order.
	col := stdOID(t, "vmCpuAffinity")
	var got []string
	for cur, req := col, (&snmp.Request{}); ; {
		vb, ok := h.Next(context.Background(), req, cur)
		if !ok || !vb.OID.HasPrefix(col) {
			break
		}
		got = append(got, vb.OID[len(col):].String())
		cur = vb.OID
	}
	var want []string
	for _, vm := range []struct{ id, vcpus uint32 }{{web, 2}, {saving, 1}} {
		for c := uint32(1); c <= vm.vcpus; c++ {
			for p := uint32(1); p <= 4; p++ {
				want = append(want, snmp.OID{vm.id, c, p}.String())
			}
		}
	}
	if web > saving {
		want = append(want[8:], want[:8]...)
	}
	if !slices.Equal(got, want) {
		t.Errorf("vmCpuAffinity walk %v, want %v", got, want)
	}
}
