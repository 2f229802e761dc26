package mib_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/mib/mibtest"
	"github.com/vmgate/vmgate/snmp"
)

// stdFixture: host kvm1 (up 1 h, 8 CPUs) runs web1 (vmId 1: 2 vCPUs, vCPU 2 pinned to
// CPU 3, a qcow2 disk and a NIC) and has idle (vmId 5) shut off; kvm2 is down with db1
// (vmId 2). The merged context shows all three.
func stdFixture() *mibtest.View {
	web1 := mib.VMRow{ID: 1, UUID: uuid1, Name: "web1", Host: "kvm1", Autostart: true, Persistent: true,
		Uptime: 90 * time.Second, VCPUs: 2, MaxVCPUs: 4, MemoryKiB: 1 << 20, MaxMemKiB: 2 << 20, Counters: true,
		CPUTimeNs: 5_000_000_000, Admin: mib.AdminRunning, Oper: mib.OperRunning,
		OSType: "http://debian.org/debian/12"}
	db1 := mib.VMRow{ID: 2, UUID: uuid2, Name: "db1", Host: "kvm2", Stale: true, VCPUs: 1, MaxVCPUs: 1,
		MemoryKiB: 4 << 40, MaxMemKiB: 4 << 40, Admin: mib.AdminRunning, Oper: mib.OperRunning, OSType: "hvm"}
	idle := mib.VMRow{ID: 5, UUID: uuid5, Name: "idle", Host: "kvm1", VCPUs: 1, MaxVCPUs: 1,
		MemoryKiB: 256 << 10, MaxMemKiB: 256 << 10, Counters: true, Admin: mib.AdminShutdown, Oper: mib.OperShutdown}
	cpus := []mib.CPURow{
		{VMID: 1, Index: 1, Counters: true, TimeNs: 2_000_000_000},
		{VMID: 1, Index: 2, Counters: true, TimeNs: 3_000_000_000},
		{VMID: 5, Index: 1, Counters: true},
	}
	var aff []mib.CPUAffinityRow
	for c := uint32(1); c <= 2; c++ {
		for p := uint32(1); p <= 8; p++ {
			a := mib.AffinityEnable
			if c == 2 && p != 4 {
				a = mib.AffinityDisable
			}
			aff = append(aff, mib.CPUAffinityRow{VMID: 1, CPU: c, Phys: p, Affinity: a})
		}
	}
	storage := []mib.StorageRow{
		{VMID: 1, Index: 1, Bus: "virtio", Capacity: 10 << 30, Allocation: 2 << 30, Counters: true,
			ReadReqs: 10, ReadBytes: 4096, WriteReqs: 20, WriteBytes: 8192, ReadTimeNs: 7000, WriteTimeNs: 9000,
			SourceType: mib.StorageSourceSparse, Format: "qcow2", ResourceID: "/images/web1.qcow2", Media: mib.MediaHard},
		{VMID: 5, Index: 2, Bus: "sata", ReadOnly: true, Media: mib.MediaOptical, SourceType: mib.StorageSourceUnknown,
			Counters: true},
	}
	nets := []mib.NetworkRow{{VMID: 1, Index: 1, MAC: [6]byte{0x52, 0x54, 0, 0, 0, 1}, Model: "virtio"}}
	kvm1 := &mib.HypervisorRow{Index: 1, Name: "kvm1"}
	kvm2 := &mib.HypervisorRow{Index: 2, Name: "kvm2"}
	return mibtest.New(map[string]*mibtest.Data{
		"": {VMs: []mib.VMRow{web1, db1, idle}, CPUs: cpus, Affinity: aff, Storage: storage, Networks: nets,
			Std: mib.StdInfo{Software: "vmgate", Version: "1.2.3", ObjectID: mib.AgentOID, Up: time.Hour,
				LastChange: time.Minute, VMs: 3}},
		"kvm1": {Host: kvm1, VMs: []mib.VMRow{web1, idle}, CPUs: cpus, Affinity: aff, Storage: storage, Networks: nets,
			Std: mib.StdInfo{Software: "QEMU", Version: "8.2.0", Up: time.Hour, VMs: 2}},
		"kvm2": {Host: kvm2, VMs: []mib.VMRow{db1}, Std: mib.StdInfo{VMs: 1}},
	})
}

// enablesStub is a mib.StdEnables in memory; fail is the error of the second set.
type enablesStub struct {
	perVM, bulk bool
	fail        error
	sets        int
}

func (e *enablesStub) PerVM() bool { return e.perVM }
func (e *enablesStub) Bulk() bool  { return e.bulk }
func (e *enablesStub) SetPerVM(on bool) error {
	return e.set(&e.perVM, on)
}
func (e *enablesStub) SetBulk(on bool) error { return e.set(&e.bulk, on) }
func (e *enablesStub) set(dst *bool, on bool) error {
	e.sets++
	if e.fail != nil && e.sets == 2 {
		return e.fail
	}
	*dst = on
	return nil
}

func stdOID(t testing.TB, name string, idx ...uint32) snmp.OID {
	t.Helper()
	o, ok := mib.StdLookup(name)
	if !ok {
		t.Fatalf("no VM-MIB object %q", name)
	}
	return o.Append(idx...)
}

func TestStdGet(t *testing.T) {
	h := mib.NewStdHandler(stdFixture(), &enablesStub{perVM: true})
	mibtest.CheckGets(t, h, []mibtest.GetCase{
		{"vmHvSoftware merged", "", stdOID(t, "vmHvSoftware", 0), gosnmp.OctetString, "vmgate"},
		{"vmHvObjectID merged: the agent", "", stdOID(t, "vmHvObjectID", 0), gosnmp.ObjectIdentifier, mib.AgentOID.String()},
		{"vmHvObjectID host: zeroDotZero", "kvm1", stdOID(t, "vmHvObjectID", 0), gosnmp.ObjectIdentifier, ".0.0"},
		{"vmHvVersion host", "kvm1", stdOID(t, "vmHvVersion", 0), gosnmp.OctetString, "8.2.0"},
		{"vmHvUpTime", "kvm1", stdOID(t, "vmHvUpTime", 0), gosnmp.TimeTicks, uint32(360000)},
		{"vmNumber", "kvm2", stdOID(t, "vmNumber", 0), gosnmp.Integer, 1},
		{"vmTableLastChange", "", stdOID(t, "vmTableLastChange", 0), gosnmp.TimeTicks, uint32(6000)},
		{"vmPerVMNotificationsEnabled", "kvm2", stdOID(t, "vmPerVMNotificationsEnabled", 0), gosnmp.Integer, 1},
		{"vmBulkNotificationsEnabled", "", stdOID(t, "vmBulkNotificationsEnabled", 0), gosnmp.Integer, 2},

		{"vmName: vmIndex is vmId", "", stdOID(t, "vmName", 5), gosnmp.OctetString, "idle"},
		{"vmUUID", "kvm1", stdOID(t, "vmUUID", 1), gosnmp.OctetString, uuid1[:]},
		{"vmOSType", "", stdOID(t, "vmOSType", 1), gosnmp.OctetString, "http://debian.org/debian/12"},
		{"vmAdminState", "", stdOID(t, "vmAdminState", 5), gosnmp.Integer, 4},
		{"vmOperState", "", stdOID(t, "vmOperState", 1), gosnmp.Integer, 4},
		{"vmOperState of a host down: unknown", "", stdOID(t, "vmOperState", 2), gosnmp.Integer, 1},
		{"vmAutoStart enabled", "", stdOID(t, "vmAutoStart", 1), gosnmp.Integer, 2},
		{"vmAutoStart disabled", "", stdOID(t, "vmAutoStart", 5), gosnmp.Integer, 3},
		{"vmPersistent transient", "", stdOID(t, "vmPersistent", 5), gosnmp.Integer, 3},
		{"vmCurCpuNumber", "", stdOID(t, "vmCurCpuNumber", 1), gosnmp.Integer, 2},
		{"vmMinCpuNumber", "", stdOID(t, "vmMinCpuNumber", 1), gosnmp.Integer, -1},
		{"vmMaxCpuNumber", "", stdOID(t, "vmMaxCpuNumber", 1), gosnmp.Integer, 4},
		{"vmMemUnit", "", stdOID(t, "vmMemUnit", 1), gosnmp.Integer, 1024},
		{"vmCurMem KiB", "", stdOID(t, "vmCurMem", 1), gosnmp.Integer, 1 << 20},
		{"vmMaxMem clamped", "", stdOID(t, "vmMaxMem", 2), gosnmp.Integer, 2147483647},
		{"vmUpTime", "", stdOID(t, "vmUpTime", 1), gosnmp.TimeTicks, uint32(9000)},
		{"vmCpuTime microseconds", "", stdOID(t, "vmCpuTime", 1), gosnmp.Counter64, uint64(5_000_000)},
		{"vmCpuTime without counters", "", stdOID(t, "vmCpuTime", 2), gosnmp.NoSuchInstance, nil},
		{"vm of another context", "kvm1", stdOID(t, "vmName", 2), gosnmp.NoSuchInstance, nil},

		{"vmCpuCoreTime", "", stdOID(t, "vmCpuCoreTime", 1, 2), gosnmp.Counter64, uint64(3_000_000)},
		{"vmCpuAffinity enabled", "", stdOID(t, "vmCpuAffinity", 1, 1, 8), gosnmp.Integer, 1},
		{"vmCpuAffinity pinned elsewhere", "", stdOID(t, "vmCpuAffinity", 1, 2, 3), gosnmp.Integer, 2},
		{"vmCpuAffinity pinned here", "kvm1", stdOID(t, "vmCpuAffinity", 1, 2, 4), gosnmp.Integer, 1},

		{"vmStorageParent", "", stdOID(t, "vmStorageParent", 1, 1), gosnmp.Integer, 0},
		{"vmStorageSourceType sparse", "", stdOID(t, "vmStorageSourceType", 1, 1), gosnmp.Integer, 5},
		{"vmStorageSourceTypeString", "", stdOID(t, "vmStorageSourceTypeString", 1, 1), gosnmp.OctetString, "qcow2"},
		{"vmStorageResourceID", "", stdOID(t, "vmStorageResourceID", 1, 1), gosnmp.OctetString, "/images/web1.qcow2"},
		{"vmStorageAccess readwrite", "", stdOID(t, "vmStorageAccess", 1, 1), gosnmp.Integer, 2},
		{"vmStorageAccess readonly", "", stdOID(t, "vmStorageAccess", 5, 2), gosnmp.Integer, 3},
		{"vmStorageMediaType optical", "", stdOID(t, "vmStorageMediaType", 5, 2), gosnmp.Integer, 4},
		{"vmStorageMediaTypeString: the bus", "", stdOID(t, "vmStorageMediaTypeString", 5, 2), gosnmp.OctetString, "sata"},
		{"vmStorageSizeUnit: KiB fits 10 GiB", "", stdOID(t, "vmStorageSizeUnit", 1, 1), gosnmp.Integer, 1024},
		{"vmStorageDefinedSize", "", stdOID(t, "vmStorageDefinedSize", 1, 1), gosnmp.Integer, 10 << 20},
		{"vmStorageAllocatedSize", "", stdOID(t, "vmStorageAllocatedSize", 1, 1), gosnmp.Integer, 2 << 20},
		{"vmStorageDefinedSize unknown", "", stdOID(t, "vmStorageDefinedSize", 5, 2), gosnmp.Integer, -1},
		{"vmStorageReadIOs", "", stdOID(t, "vmStorageReadIOs", 1, 1), gosnmp.Counter64, uint64(10)},
		{"vmStorageWriteOctets", "", stdOID(t, "vmStorageWriteOctets", 1, 1), gosnmp.Counter64, uint64(8192)},
		{"vmStorageReadLatency microseconds", "", stdOID(t, "vmStorageReadLatency", 1, 1), gosnmp.Counter64, uint64(7)},

		{"vmNetworkIfIndex: no ifTable here", "", stdOID(t, "vmNetworkIfIndex", 1, 1), gosnmp.Integer, 0},
		{"vmNetworkParent", "", stdOID(t, "vmNetworkParent", 1, 1), gosnmp.Integer, 0},
		{"vmNetworkModel", "", stdOID(t, "vmNetworkModel", 1, 1), gosnmp.OctetString, "virtio"},
		{"vmNetworkPhysAddress", "", stdOID(t, "vmNetworkPhysAddress", 1, 1), gosnmp.OctetString, []byte{0x52, 0x54, 0, 0, 0, 1}},
		{"unknown context", "nowhere", stdOID(t, "vmNumber", 0), gosnmp.NoSuchInstance, nil},
	})
}

// TestStdWalk walks VM-MIB in every context: strictly increasing, inside the module,
// and every object of the mandatory groups has instances in the merged context.
func TestStdWalk(t *testing.T) {
	h := mib.NewStdHandler(stdFixture(), nil)
	for _, ctx := range []string{"", "kvm1", "kvm2"} {
		seen := map[string]bool{}
		cur := mib.StdRoot
		for n := 0; ; n++ {
			vb, ok := h.Next(context.Background(), req(ctx), cur)
			if !ok {
				break
			}
			if vb.OID.Compare(cur) <= 0 || !vb.OID.HasPrefix(mib.StdRoot) {
				t.Fatalf("%q: %v after %v", ctx, vb.OID, cur)
			}
			seen[stdName(vb.OID)] = true
			cur = vb.OID
		}
		if ctx != "" {
			continue
		}
		for _, g := range mib.StdObjectGroups() {
			for _, o := range g.Objects {
				if !seen[o] {
					t.Errorf("%s: %s has no instance in the merged context", g.Name, o)
				}
			}
		}
	}
}

// stdName names the object an instance OID belongs to.
func stdName(o snmp.OID) string {
	for _, s := range mib.StdScalars() {
		if o.HasPrefix(s.OID) {
			return s.Name
		}
	}
	for _, tb := range mib.StdTables() {
		if o.HasPrefix(tb.Entry()) && len(o) > len(tb.Entry()) {
			if c, ok := tb.Column(o[len(tb.Entry())]); ok {
				return c.Name
			}
		}
	}
	return o.String()
}

// writer is a SET request of a principal of every context, in context ctx.
func writer(ctx string) *snmp.Request {
	return &snmp.Request{Context: ctx, Principal: snmp.Principal{Access: snmp.ReadWrite, AllContexts: true}}
}

func TestStdSet(t *testing.T) {
	perVM := stdOID(t, "vmPerVMNotificationsEnabled", 0)
	bulk := stdOID(t, "vmBulkNotificationsEnabled", 0)
	set := func(o snmp.OID, typ gosnmp.Asn1BER, v any, i int) snmp.SetVar {
		return snmp.SetVar{Index: i, VarBind: snmp.VarBind{OID: o, Type: typ, Value: v}}
	}
	tests := []struct {
		name   string
		vars   []snmp.SetVar
		status gosnmp.SNMPError
		index  int
	}{
		{"read-only column", []snmp.SetVar{set(stdOID(t, "vmName", 1), gosnmp.OctetString, []byte("x"), 1)}, gosnmp.NotWritable, 1},
		{"wrong type", []snmp.SetVar{set(perVM, gosnmp.OctetString, []byte("1"), 1)}, gosnmp.WrongType, 1},
		{"not a TruthValue", []snmp.SetVar{set(perVM, gosnmp.Integer, 1, 1), set(bulk, gosnmp.Integer, 3, 2)}, gosnmp.WrongValue, 2},
		{"no such instance", []snmp.SetVar{set(stdOID(t, "vmBulkNotificationsEnabled", 1), gosnmp.Integer, 1, 1)}, gosnmp.NoCreation, 1},
	}
	t.Run("a principal of one context", func(t *testing.T) {
		en := &enablesStub{perVM: true}
		h := mib.NewStdHandler(stdFixture(), en)
		r := &snmp.Request{Context: "kvm1", Principal: snmp.Principal{Access: snmp.ReadWrite}}
		err := h.TestSet(context.Background(), r, []snmp.SetVar{set(perVM, gosnmp.Integer, 2, 1)})
		var se *snmp.SetError
		if !errors.As(err, &se) || se.Status != gosnmp.NoAccess {
			t.Fatalf("TestSet = %v, want noAccess", err)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			en := &enablesStub{perVM: true}
			h := mib.NewStdHandler(stdFixture(), en)
			err := h.TestSet(context.Background(), writer(""), tt.vars)
			var se *snmp.SetError
			if !errors.As(err, &se) || se.Status != tt.status || se.Index != tt.index {
				t.Fatalf("TestSet = %v, want %v at %d", err, tt.status, tt.index)
			}
			if en.sets != 0 {
				t.Errorf("a failed TestSet changed an enable")
			}
		})
	}

	t.Run("commit", func(t *testing.T) {
		en := &enablesStub{perVM: true}
		h := mib.NewStdHandler(stdFixture(), en)
		vars := []snmp.SetVar{set(perVM, gosnmp.Integer, 2, 1), set(bulk, gosnmp.Integer, 1, 2)}
		if err := h.TestSet(context.Background(), writer("kvm1"), vars); err != nil {
			t.Fatal(err)
		}
		if err := h.CommitSet(context.Background(), writer("kvm1"), vars); err != nil {
			t.Fatal(err)
		}
		if en.perVM || !en.bulk {
			t.Errorf("after SET: perVM %v bulk %v, want false true", en.perVM, en.bulk)
		}
		if vb := h.Get(context.Background(), req(""), bulk); vb.Value != 1 {
			t.Errorf("vmBulkNotificationsEnabled reads %v after SET true(1)", vb.Value)
		}
	})

	t.Run("failed commit undoes", func(t *testing.T) {
		en := &enablesStub{perVM: true, fail: errors.New("disk full")}
		h := mib.NewStdHandler(stdFixture(), en)
		vars := []snmp.SetVar{set(perVM, gosnmp.Integer, 2, 1), set(bulk, gosnmp.Integer, 1, 2)}
		err := h.CommitSet(context.Background(), writer(""), vars)
		var se *snmp.SetError
		if !errors.As(err, &se) || se.Status != gosnmp.CommitFailed || se.Index != 2 {
			t.Fatalf("CommitSet = %v, want commitFailed at 2", err)
		}
		if !en.perVM || en.bulk {
			t.Errorf("after a failed SET: perVM %v bulk %v, want the old true false", en.perVM, en.bulk)
		}
	})

	t.Run("without enables", func(t *testing.T) {
		h := mib.NewStdHandler(stdFixture(), nil)
		err := h.TestSet(context.Background(), writer(""), []snmp.SetVar{set(perVM, gosnmp.Integer, 1, 1)})
		var se *snmp.SetError
		if !errors.As(err, &se) || se.Status != gosnmp.NotWritable {
			t.Fatalf("TestSet = %v, want notWritable", err)
		}
	})
}
