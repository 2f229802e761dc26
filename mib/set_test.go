package mib

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/snmp"
)

// fakeCtl is a Controller over in-memory VMs; it records the calls of the commit phase
// and fails the call named in failOn.
type fakeCtl struct {
	vms       map[uint32]VMInfo
	hosts     map[string]bool // name -> up
	images    map[uint32]ImageInfo
	templates map[uint32]TemplateInfo
	cur, stor uint32
	taken     map[uint32]bool // vmIds held in the registry without a VM
	calls     []string
	failOn    string
	tplDown   error // TemplatesAvailable's answer
}

func newFake() *fakeCtl {
	return &fakeCtl{
		vms: map[uint32]VMInfo{
			1: {ID: 1, Name: "web", Host: "h1", State: StateShutoff, Persistent: true, MemoryKiB: 65536,
				MaxMemKiB: 65536, VCPUs: 1, MaxVCPUs: 2,
				Disks: []DiskInfo{{Index: 3, Device: DeviceCdRom, Target: "sda", Bus: "sata"}}},
			2: {ID: 2, Name: "db", Host: "h1", State: StateRunning, Persistent: true, MemoryKiB: 65536,
				MaxMemKiB: 131072, VCPUs: 2, MaxVCPUs: 2},
			3:  {ID: 3, Name: "old", Host: "h2", State: StateUnknown},
			4:  {ID: 4, Name: "tmp", Host: "h1", State: StateRunning, NoPMAgent: true, MemoryKiB: 65536, MaxMemKiB: 65536, VCPUs: 1, MaxVCPUs: 1},
			11: {ID: 11, Name: "boot", Host: "h1", State: StateRunning, FixedVCPUs: true, MemoryKiB: 65536, MaxMemKiB: 65536, VCPUs: 2, MaxVCPUs: 2},
			6:  {ID: 6, Name: "asleep", Host: "h1", State: StatePMSuspended, Persistent: true, MemoryKiB: 65536, MaxMemKiB: 65536, VCPUs: 1, MaxVCPUs: 1},
		},
		hosts:     map[string]bool{"h1": true, "h2": false},
		images:    map[uint32]ImageInfo{7: {Index: 7, Host: "h1", Path: "/p/a.raw", InPool: true}, 8: {Index: 8, Host: "h2", Path: "/p/b.raw"}},
		templates: map[uint32]TemplateInfo{1: {Index: 1, Name: "tiny", MemoryMb: 64, VCPUs: 1, Status: RowActive}},
		cur:       1,
		taken:     map[uint32]bool{9: true},
	}
}

func (f *fakeCtl) call(format string, args ...any) error {
	c := fmt.Sprintf(format, args...)
	f.calls = append(f.calls, c)
	if f.failOn != "" && strings.HasPrefix(c, f.failOn) {
		return errors.New("injected failure")
	}
	return nil
}

func (f *fakeCtl) VM(scope string, id uint32) (VMInfo, bool) {
	vm, ok := f.vms[id]
	if ok && scope != "" && vm.Host != scope {
		return VMInfo{}, false
	}
	return vm, ok
}
func (f *fakeCtl) VMIDFree(id uint32) bool             { _, ok := f.vms[id]; return !ok && !f.taken[id] }
func (f *fakeCtl) StorageIndexFree(_, idx uint32) bool { return idx != 3 }
func (f *fakeCtl) HostUp(name string) (bool, bool)     { up, ok := f.hosts[name]; return up, ok }
func (f *fakeCtl) NameTaken(host, name string) bool    { return name == "db" || name == "web" }
func (f *fakeCtl) HostMemoryKiB(string) uint64         { return 8 << 20 }
func (f *fakeCtl) Image(scope string, i uint32) (ImageInfo, bool) {
	im, ok := f.images[i]
	if ok && scope != "" && im.Host != scope {
		return ImageInfo{}, false
	}
	return im, ok
}
func (f *fakeCtl) Template(i uint32) (TemplateInfo, bool) { t, ok := f.templates[i]; return t, ok }
func (f *fakeCtl) CurrentTemplates() (uint32, uint32)     { return f.cur, f.stor }
func (f *fakeCtl) TemplateDir() string                    { return "/etc/vmgate/templates" }
func (f *fakeCtl) TemplateFileExists(name string) bool    { return name == "tiny.xml" }
func (f *fakeCtl) TemplatesAvailable() error              { return f.tplDown }
func (f *fakeCtl) TemplateIndexFree(idx uint32, file string) bool {
	return idx != 9 || file == "gone.xml" // 9: gone.xml's, destroyed, in its grace period
}
func (f *fakeCtl) Create(_ context.Context, s CreateSpec) error {
	if s.Image != 0 {
		return f.call("create %d %s %q mem=%d start=%v img=%d", s.VMID, s.Host, s.Name, s.MemoryMb, s.Start, s.Image)
	}
	return f.call("create %d %s %q mem=%d start=%v", s.VMID, s.Host, s.Name, s.MemoryMb, s.Start)
}
func (f *fakeCtl) Destroy(_ context.Context, h string, id uint32) error {
	return f.call("destroy %s %d", h, id)
}
func (f *fakeCtl) SetState(_ context.Context, h string, id uint32, to VMState) error {
	return f.call("state %d %v", id, to)
}
func (f *fakeCtl) Rename(_ context.Context, h string, id uint32, n string) error {
	return f.call("rename %d %s", id, n)
}
func (f *fakeCtl) SetMemory(_ context.Context, h string, id uint32, mb uint32) error {
	return f.call("memory %d %d", id, mb)
}
func (f *fakeCtl) SetVCPUs(_ context.Context, h string, id uint32, n uint32) error {
	return f.call("vcpus %d %d", id, n)
}
func (f *fakeCtl) SetAutostart(_ context.Context, h string, id uint32, on bool) error {
	return f.call("autostart %d %v", id, on)
}
func (f *fakeCtl) AttachDisk(_ context.Context, h string, id uint32, d DiskSpec) error {
	if err := f.call("attach %d %d %v img=%d", id, d.Index, d.Device, d.Image); err != nil {
		return err
	}
	vm := f.vms[id]
	vm.Disks = append(slices.Clone(vm.Disks), DiskInfo{Index: d.Index, Device: d.Device, Target: "vdz", Image: d.Image})
	f.vms[id] = vm
	return nil
}
func (f *fakeCtl) DetachDisk(_ context.Context, h string, id uint32, t string) error {
	return f.call("detach %d %s", id, t)
}
func (f *fakeCtl) ChangeMedia(_ context.Context, h string, id uint32, t string, img uint32) error {
	return f.call("media %d %s %d", id, t, img)
}
func (f *fakeCtl) SetCurrentTemplates(vm, st uint32) error {
	if err := f.call("templates %d %d", vm, st); err != nil {
		return err
	}
	f.cur, f.stor = vm, st
	return nil
}
func (f *fakeCtl) PutTemplate(t TemplateInfo) error {
	return f.call("put template %d %s %d %d", t.Index, t.Name, t.MemoryMb, t.VCPUs)
}
func (f *fakeCtl) DeleteTemplate(i uint32) error { return f.call("delete template %d", i) }

// sv builds a SET varbind of column col of table t at idx.
func sv(t *Table, col uint32, typ gosnmp.Asn1BER, v any, idx ...uint32) snmp.VarBind {
	return snmp.VarBind{OID: t.Instance(col, idx...), Type: typ, Value: v}
}

func rs(t *Table, col uint32, s RowStatus, idx ...uint32) snmp.VarBind {
	return sv(t, col, gosnmp.Integer, int(s), idx...)
}

func setVars(vbs ...snmp.VarBind) []snmp.SetVar {
	out := make([]snmp.SetVar, len(vbs))
	for i, vb := range vbs {
		out[i] = snmp.SetVar{Index: i + 1, VarBind: vb}
	}
	return out
}

func status(err error) (gosnmp.SNMPError, int) {
	var se *snmp.SetError
	if errors.As(err, &se) {
		return se.Status, se.Index
	}
	if err != nil {
		return gosnmp.GenErr, 0
	}
	return gosnmp.NoError, 0
}

func TestTestSetStatuses(t *testing.T) {
	vmT, memT, cpuT, stT, tplT := VirtualMachinesTable, MemoryTable, CpuTable, StorageTable, VirtualMachineTemplateTable
	name := func(s string, id uint32) snmp.VarBind { return sv(vmT, ColVmName, gosnmp.OctetString, []byte(s), id) }
	state := func(s VMState, id uint32) snmp.VarBind { return sv(vmT, ColVmState, gosnmp.Integer, int(s), id) }
	host := func(s string, id uint32) snmp.VarBind { return sv(vmT, ColVmHost, gosnmp.OctetString, []byte(s), id) }
	tests := []struct {
		name  string
		scope string
		vars  []snmp.VarBind
		want  gosnmp.SNMPError
		index int
		calls []string
	}{
		{"read-only column", "h1", []snmp.VarBind{sv(vmT, ColVmUUID, gosnmp.OctetString, []byte("x"), 1)}, gosnmp.NotWritable, 1, nil},
		{"unknown object", "h1", []snmp.VarBind{{OID: Root.Append(1, 99, 0), Type: gosnmp.Integer, Value: 1}}, gosnmp.NotWritable, 1, nil},
		{"wrong type", "h1", []snmp.VarBind{sv(vmT, ColVmState, gosnmp.OctetString, []byte("x"), 1)}, gosnmp.WrongType, 1, nil},
		{"wrong length", "h1", []snmp.VarBind{name("", 1)}, gosnmp.WrongLength, 1, nil},
		{"wrong value enum", "h1", []snmp.VarBind{state(42, 1)}, gosnmp.WrongValue, 1, nil},
		{"wrong value crashed", "h1", []snmp.VarBind{state(StateCrashed, 1)}, gosnmp.WrongValue, 1, nil},
		{"wrong value notInService", "h1", []snmp.VarBind{rs(vmT, ColVmRowStatus, RowNotInService, 5)}, gosnmp.WrongValue, 1, nil},
		{"no creation: bad index", "h1", []snmp.VarBind{rs(vmT, ColVmRowStatus, RowCreateAndGo, 0)}, gosnmp.NoCreation, 1, nil},
		{"no creation: memory of no VM", "h1", []snmp.VarBind{sv(memT, ColMemoryTotalMb, gosnmp.Gauge32, uint(64), 50)}, gosnmp.NoCreation, 1, nil},
		{"inconsistent name: taken vmId", "h1", []snmp.VarBind{rs(vmT, ColVmRowStatus, RowCreateAndWait, 9)}, gosnmp.InconsistentName, 1, nil},
		{"inconsistent name: column of no row", "h1", []snmp.VarBind{name("x", 50)}, gosnmp.InconsistentName, 1, nil},
		{"create on existing row", "h1", []snmp.VarBind{rs(vmT, ColVmRowStatus, RowCreateAndGo, 1)}, gosnmp.InconsistentValue, 1, nil},
		{"create in merged context without vmHost", "", []snmp.VarBind{rs(vmT, ColVmRowStatus, RowCreateAndGo, 5)}, gosnmp.InconsistentValue, 1, nil},
		{"create on a down host", "", []snmp.VarBind{rs(vmT, ColVmRowStatus, RowCreateAndGo, 5), host("h2", 5)}, gosnmp.InconsistentValue, 2, nil},
		{"create with another host's vmHost", "h1", []snmp.VarBind{host("h2", 5), rs(vmT, ColVmRowStatus, RowCreateAndGo, 5)}, gosnmp.InconsistentValue, 1, nil},
		{"create with a taken name", "h1", []snmp.VarBind{rs(vmT, ColVmRowStatus, RowCreateAndGo, 5), name("db", 5)}, gosnmp.InconsistentValue, 2, nil},
		{"create with vmState", "h1", []snmp.VarBind{rs(vmT, ColVmRowStatus, RowCreateAndGo, 5), state(StateRunning, 5)}, gosnmp.InconsistentValue, 2, nil},
		{"autostart a transient VM", "h1", []snmp.VarBind{sv(vmT, ColVmAutostart, gosnmp.Integer, int(True), 4)}, gosnmp.InconsistentValue, 1, nil},
		{"memory above the host's", "h1", []snmp.VarBind{sv(memT, ColMemoryTotalMb, gosnmp.Gauge32, uint(16384), 1)}, gosnmp.InconsistentValue, 1, nil},
		{"create with memory above the host's", "h1", []snmp.VarBind{rs(vmT, ColVmRowStatus, RowCreateAndGo, 5), sv(memT, ColMemoryTotalMb, gosnmp.Gauge32, uint(16384), 5)}, gosnmp.InconsistentValue, 2, nil},
		{"rename beyond a file name", "h1", []snmp.VarBind{name(strings.Repeat("n", 252), 1)}, gosnmp.InconsistentValue, 1, nil},
		{"create with a name beyond a file name", "h1", []snmp.VarBind{rs(vmT, ColVmRowStatus, RowCreateAndWait, 5), name(strings.Repeat("n", 252), 5)}, gosnmp.InconsistentValue, 2, nil},
		{"rename with a slash", "h1", []snmp.VarBind{name("a/../b", 1)}, gosnmp.WrongValue, 1, nil},
		{"create with a slash in the name", "h1", []snmp.VarBind{rs(vmT, ColVmRowStatus, RowCreateAndWait, 5), name("../x", 5)}, gosnmp.WrongValue, 2, nil},
		{"rename to a hidden file name", "h1", []snmp.VarBind{name(".web", 1)}, gosnmp.WrongValue, 1, nil},
		{"rename a running VM", "h1", []snmp.VarBind{name("new", 2)}, gosnmp.InconsistentValue, 1, nil},
		{"rename to a taken name", "h1", []snmp.VarBind{name("db", 1)}, gosnmp.InconsistentValue, 1, nil},
		{"impossible transition", "h1", []snmp.VarBind{state(StatePaused, 1)}, gosnmp.InconsistentValue, 1, nil},
		{"suspend to RAM a shut-off VM", "h1", []snmp.VarBind{state(StatePMSuspended, 1)}, gosnmp.InconsistentValue, 1, nil},
		{"suspend to RAM without a guest agent", "h1", []snmp.VarBind{state(StatePMSuspended, 4)}, gosnmp.InconsistentValue, 1, nil},
		{"pause a pmsuspended VM", "h1", []snmp.VarBind{state(StatePaused, 6)}, gosnmp.InconsistentValue, 1, nil},
		{"VM on a down host", "", []snmp.VarBind{state(StateRunning, 3)}, gosnmp.InconsistentValue, 1, nil},
		{"VM of another context", "h2", []snmp.VarBind{state(StateRunning, 1)}, gosnmp.InconsistentName, 1, nil},
		{"memory above the running maximum", "h1", []snmp.VarBind{sv(memT, ColMemoryTotalMb, gosnmp.Gauge32, uint(256), 2)}, gosnmp.InconsistentValue, 1, nil},
		{"vCPU beyond the running maximum", "h1", []snmp.VarBind{rs(cpuT, ColCpuRowStatus, RowCreateAndGo, 2, 3)}, gosnmp.InconsistentValue, 1, nil},
		{"vCPU index not next", "h1", []snmp.VarBind{rs(cpuT, ColCpuRowStatus, RowCreateAndGo, 1, 5)}, gosnmp.InconsistentName, 1, nil},
		{"unplug a boot vCPU of a running QEMU VM", "h1", []snmp.VarBind{rs(cpuT, ColCpuRowStatus, RowDestroy, 11, 2)}, gosnmp.InconsistentValue, 1, nil},
		{"remove the only vCPU", "h1", []snmp.VarBind{rs(cpuT, ColCpuRowStatus, RowDestroy, 1, 1)}, gosnmp.InconsistentValue, 1, nil},
		{"vCPU createAndWait", "h1", []snmp.VarBind{rs(cpuT, ColCpuRowStatus, RowCreateAndWait, 1, 2)}, gosnmp.WrongValue, 1, nil},
		{"disk createAndWait", "h1", []snmp.VarBind{rs(stT, ColStorageRowStatus, RowCreateAndWait, 1, 20)}, gosnmp.WrongValue, 1, nil},
		{"disk without image", "h1", []snmp.VarBind{rs(stT, ColStorageRowStatus, RowCreateAndGo, 1, 20)}, gosnmp.InconsistentValue, 1, nil},
		{"disk image of another host", "h1", []snmp.VarBind{rs(stT, ColStorageRowStatus, RowCreateAndGo, 1, 20), sv(stT, ColStorageDiskImageIndex, gosnmp.Gauge32, uint(8), 1, 20)}, gosnmp.InconsistentValue, 2, nil},
		{"disk on a taken index", "h1", []snmp.VarBind{rs(stT, ColStorageRowStatus, RowCreateAndGo, 1, 4), sv(stT, ColStorageDiskImageIndex, gosnmp.Gauge32, uint(7), 1, 4)}, gosnmp.NoError, 0,
			[]string{"attach 1 4 disk img=7"}},
		{"template xml up and down the directory", "h1", []snmp.VarBind{rs(tplT, ColTemplateRowStatus, RowCreateAndGo, 4), sv(tplT, ColTemplateXmlFile, gosnmp.OctetString, []byte("/etc/vmgate/templates/tiny.xml/x/.."), 4)}, gosnmp.WrongValue, 2, nil},
		{"template xml outside the directory", "h1", []snmp.VarBind{rs(tplT, ColTemplateRowStatus, RowCreateAndGo, 4), sv(tplT, ColTemplateXmlFile, gosnmp.OctetString, []byte("/etc/passwd"), 4)}, gosnmp.WrongValue, 2, nil},
		{"template named like an existing file", "h1", []snmp.VarBind{rs(tplT, ColTemplateRowStatus, RowCreateAndGo, 4), sv(tplT, ColDomainTemplateName, gosnmp.OctetString, []byte("tiny"), 4)}, gosnmp.InconsistentValue, 2, nil},
		{"template memory above every host's", "", []snmp.VarBind{rs(tplT, ColTemplateRowStatus, RowCreateAndGo, 4), sv(tplT, ColDomainTemplateName, gosnmp.OctetString, []byte("big"), 4), sv(tplT, ColTemplateMemoryMb, gosnmp.Gauge32, uint(4294967295), 4)}, gosnmp.InconsistentValue, 3, nil},
		{"template index in another file's grace period", "h1", []snmp.VarBind{rs(tplT, ColTemplateRowStatus, RowCreateAndGo, 9), sv(tplT, ColDomainTemplateName, gosnmp.OctetString, []byte("big"), 9)}, gosnmp.InconsistentValue, 1, nil},
		{"template without a name", "h1", []snmp.VarBind{rs(tplT, ColTemplateRowStatus, RowCreateAndGo, 4)}, gosnmp.InconsistentValue, 1, nil},
		{"destroy the current template", "h1", []snmp.VarBind{rs(tplT, ColTemplateRowStatus, RowDestroy, 1)}, gosnmp.InconsistentValue, 1, nil},
		{"unknown template", "h1", []snmp.VarBind{{OID: VirtualMachineTemplate.Instance(), Type: gosnmp.Gauge32, Value: uint(5)}}, gosnmp.InconsistentValue, 1, nil},
		{"same object twice", "h1", []snmp.VarBind{state(StateRunning, 1), state(StateRunning, 1)}, gosnmp.InconsistentValue, 2, nil},

		{"create in host context", "h1", []snmp.VarBind{rs(vmT, ColVmRowStatus, RowCreateAndWait, 5), sv(memT, ColMemoryTotalMb, gosnmp.Gauge32, uint(96), 5)}, gosnmp.NoError, 0,
			[]string{`create 5 h1 "" mem=96 start=false`}},
		{"createAndGo in merged context", "", []snmp.VarBind{rs(vmT, ColVmRowStatus, RowCreateAndGo, 5), host("h1", 5), name("new", 5)}, gosnmp.NoError, 0,
			[]string{`create 5 h1 "new" mem=0 start=true`}},
		{"rename then start", "h1", []snmp.VarBind{state(StateRunning, 1), name("web2", 1)}, gosnmp.NoError, 0,
			[]string{"rename 1 web2", "state 1 running"}},
		{"autostart on", "h1", []snmp.VarBind{sv(vmT, ColVmAutostart, gosnmp.Integer, int(True), 1)}, gosnmp.NoError, 0, []string{"autostart 1 true"}},
		{"autostart unchanged", "h1", []snmp.VarBind{sv(vmT, ColVmAutostart, gosnmp.Integer, int(False), 1)}, gosnmp.NoError, 0, nil},
		{"autostart wrong value", "h1", []snmp.VarBind{sv(vmT, ColVmAutostart, gosnmp.Integer, 3, 1)}, gosnmp.WrongValue, 1, nil},
		{"suspend to RAM", "h1", []snmp.VarBind{state(StatePMSuspended, 2)}, gosnmp.NoError, 0, []string{"state 2 pmsuspended"}},
		{"wake up", "h1", []snmp.VarBind{state(StateRunning, 6)}, gosnmp.NoError, 0, []string{"state 6 running"}},
		{"no-op transition", "h1", []snmp.VarBind{state(StateRunning, 2)}, gosnmp.NoError, 0, nil},
		{"destroy", "h1", []snmp.VarBind{rs(vmT, ColVmRowStatus, RowDestroy, 2)}, gosnmp.NoError, 0, []string{"destroy h1 2"}},
		{"destroy a missing row", "h1", []snmp.VarBind{rs(vmT, ColVmRowStatus, RowDestroy, 77)}, gosnmp.NoError, 0, nil},
		{"raise memory of a shut-off VM", "h1", []snmp.VarBind{sv(memT, ColMemoryTotalMb, gosnmp.Gauge32, uint(128), 1)}, gosnmp.NoError, 0, []string{"memory 1 128"}},
		{"add a vCPU", "h1", []snmp.VarBind{rs(cpuT, ColCpuRowStatus, RowCreateAndGo, 1, 2)}, gosnmp.NoError, 0, []string{"vcpus 1 2"}},
		{"remove the last vCPU", "h1", []snmp.VarBind{rs(cpuT, ColCpuRowStatus, RowDestroy, 2, 2)}, gosnmp.NoError, 0, []string{"vcpus 2 1"}},
		{"change media", "h1", []snmp.VarBind{sv(stT, ColStorageDiskImageIndex, gosnmp.Gauge32, uint(7), 1, 3)}, gosnmp.NoError, 0, []string{"media 1 sda 7"}},
		{"detach", "h1", []snmp.VarBind{rs(stT, ColStorageRowStatus, RowDestroy, 1, 3)}, gosnmp.NoError, 0, []string{"detach 1 sda"}},
		{"new template", "", []snmp.VarBind{rs(tplT, ColTemplateRowStatus, RowCreateAndGo, 4), sv(tplT, ColDomainTemplateName, gosnmp.OctetString, []byte("big"), 4), sv(tplT, ColTemplateVcpus, gosnmp.Gauge32, uint(4), 4)}, gosnmp.NoError, 0,
			[]string{"put template 4 big 512 4"}},
		{"template index back to its file in the grace period", "", []snmp.VarBind{rs(tplT, ColTemplateRowStatus, RowCreateAndGo, 9), sv(tplT, ColDomainTemplateName, gosnmp.OctetString, []byte("gone"), 9)}, gosnmp.NoError, 0,
			[]string{"put template 9 gone 512 1"}},
		{"current template", "", []snmp.VarBind{{OID: VirtualMachineTemplate.Instance(), Type: gosnmp.Gauge32, Value: uint(0)}}, gosnmp.NoError, 0, []string{"templates 0 0"}},
		{"both current templates in one PDU", "h1", []snmp.VarBind{{OID: VirtualMachineTemplate.Instance(), Type: gosnmp.Gauge32, Value: uint(0)}, {OID: StorageTemplate.Instance(), Type: gosnmp.Gauge32, Value: uint(7)}}, gosnmp.NoError, 0, []string{"templates 0 0", "templates 0 7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			h := NewHandler(nil, WithController(f))
			r := &snmp.Request{Context: tt.scope, Principal: snmp.Principal{Name: "admin", Access: snmp.ReadWrite, AllContexts: true}}
			vars := setVars(tt.vars...)
			st, idx := status(h.TestSet(context.Background(), r, vars))
			if st != tt.want || idx != tt.index {
				t.Fatalf("TestSet: %v at %d, want %v at %d (%v)", st, idx, tt.want, tt.index, h.TestSet(context.Background(), r, vars))
			}
			if len(f.calls) != 0 {
				t.Fatalf("TestSet changed something: %v", f.calls)
			}
			if st != gosnmp.NoError {
				return
			}
			if err := h.CommitSet(context.Background(), r, vars); err != nil {
				t.Fatalf("CommitSet: %v", err)
			}
			if fmt.Sprint(f.calls) != fmt.Sprint(tt.calls) {
				t.Fatalf("calls %q, want %q", f.calls, tt.calls)
			}
		})
	}
}

// TestTemplatesNeedAllContexts: the template store and the current templates are
// global, so only a principal with every context ("*") may change them; a user limited
// to a host, or a community (one context, even the merged cluster), gets noAccess at the
// first template varbind, and may still create a VM from the template on its host.
func TestTemplatesNeedAllContexts(t *testing.T) {
	tplT := VirtualMachineTemplateTable
	scalar := func(s *Scalar, v uint) snmp.VarBind {
		return snmp.VarBind{OID: s.Instance(), Type: gosnmp.Gauge32, Value: v}
	}
	principals := []struct {
		name  string
		scope string
		p     snmp.Principal
	}{
		{"v3 user of one host", "h1", snmp.Principal{Model: snmp.ModelUSM, Name: "h1-admin", Access: snmp.ReadWrite}},
		{"v3 user of the merged cluster", "", snmp.Principal{Model: snmp.ModelUSM, Name: "ops", Access: snmp.ReadWrite}},
		{"v2c community of the merged cluster", "", snmp.Principal{Model: snmp.ModelV2c, Name: "private", Access: snmp.ReadWrite}},
	}
	ops := []struct {
		name  string
		vars  []snmp.VarBind
		index int
	}{
		{"destroy a template", []snmp.VarBind{rs(tplT, ColTemplateRowStatus, RowDestroy, 2)}, 1},
		{"create a template", []snmp.VarBind{rs(tplT, ColTemplateRowStatus, RowCreateAndGo, 4), sv(tplT, ColDomainTemplateName, gosnmp.OctetString, []byte("big"), 4)}, 1},
		{"template column of no row, wrong type", []snmp.VarBind{sv(tplT, ColTemplateMemoryMb, gosnmp.Integer, 5, 4)}, 1},
		{"virtualMachineTemplate", []snmp.VarBind{scalar(VirtualMachineTemplate, 2)}, 1},
		{"storageTemplate after a VM change", []snmp.VarBind{sv(VirtualMachinesTable, ColVmAutostart, gosnmp.Integer, int(True), 1), scalar(StorageTemplate, 0)}, 2},
	}
	for _, pr := range principals {
		for _, op := range ops {
			t.Run(pr.name+"/"+op.name, func(t *testing.T) {
				f := newFake()
				f.templates[2] = TemplateInfo{Index: 2, Name: "other", MemoryMb: 64, VCPUs: 1, Status: RowActive}
				h := NewHandler(nil, WithController(f))
				r := &snmp.Request{Context: pr.scope, Principal: pr.p}
				vars := setVars(op.vars...)
				if st, idx := status(h.TestSet(context.Background(), r, vars)); st != gosnmp.NoAccess || idx != op.index {
					t.Fatalf("TestSet: %v at %d, want noAccess at %d", st, idx, op.index)
				}
				if st, idx := status(h.CommitSet(context.Background(), r, vars)); st == gosnmp.NoError || idx != op.index {
					t.Fatalf("CommitSet: %v at %d, want a failure at %d", st, idx, op.index)
				}
				if len(f.calls) != 0 {
					t.Fatalf("changed: %v", f.calls)
				}
			})
		}
	}
	t.Run("a host's user creates a VM from the template on its host", func(t *testing.T) {
		f := newFake()
		h := NewHandler(nil, WithController(f))
		r := &snmp.Request{Context: "h1", Principal: principals[0].p}
		vars := setVars(rs(VirtualMachinesTable, ColVmRowStatus, RowCreateAndGo, 5))
		if err := h.TestSet(context.Background(), r, vars); err != nil {
			t.Fatal(err)
		}
		if err := h.CommitSet(context.Background(), r, vars); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(f.calls) != `[create 5 h1 "" mem=0 start=true]` {
			t.Fatalf("calls %q", f.calls)
		}
	})
}

func TestCommitSetUndo(t *testing.T) {
	vmT := VirtualMachinesTable
	vars := setVars(
		sv(vmT, ColVmName, gosnmp.OctetString, []byte("web2"), 1),
		sv(vmT, ColVmState, gosnmp.Integer, int(StateRunning), 1),
	)
	r := &snmp.Request{Context: "h1", Principal: snmp.Principal{Name: "admin", Access: snmp.ReadWrite}}
	tests := []struct {
		name   string
		failOn string
		want   gosnmp.SNMPError
		index  int
		calls  string
	}{
		{"first step fails", "rename 1 web2", gosnmp.CommitFailed, 1, "[rename 1 web2]"},
		{"second fails, first undone", "state", gosnmp.CommitFailed, 2, "[rename 1 web2 state 1 running rename 1 web]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			f.failOn = tt.failOn
			var logs bytes.Buffer
			h := NewHandler(nil, WithController(f), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			st, idx := status(h.CommitSet(context.Background(), r, vars))
			if st != tt.want || idx != tt.index {
				t.Fatalf("CommitSet: %v at %d, want %v at %d", st, idx, tt.want, tt.index)
			}
			if got := fmt.Sprint(f.calls); got != tt.calls {
				t.Fatalf("calls %s, want %s", got, tt.calls)
			}
			for _, want := range []string{"principal=admin", "context=h1", "object=vmName.1", "old=web", "new=web2", "result=failed"} {
				if !strings.Contains(logs.String(), want) {
					t.Fatalf("audit log lacks %q:\n%s", want, logs.String())
				}
			}
		})
	}
	t.Run("attach undone", func(t *testing.T) {
		f := newFake()
		f.failOn = "state"
		h := NewHandler(nil, WithController(f))
		stT := StorageTable
		vars := setVars(rs(stT, ColStorageRowStatus, RowCreateAndGo, 1, 20), sv(stT, ColStorageDiskImageIndex, gosnmp.Gauge32, uint(7), 1, 20),
			sv(vmT, ColVmState, gosnmp.Integer, int(StateRunning), 1))
		st, idx := status(h.CommitSet(context.Background(), r, vars))
		if st != gosnmp.CommitFailed || idx != 3 {
			t.Fatalf("CommitSet: %v at %d, want commitFailed at 3", st, idx)
		}
		if got := fmt.Sprint(f.calls); got != "[attach 1 20 disk img=7 state 1 running detach 1 vdz]" {
			t.Fatalf("calls %s", got)
		}
	})
	t.Run("undo impossible", func(t *testing.T) {
		f := newFake()
		f.failOn = "state"
		h := NewHandler(nil, WithController(f))
		// destroy (no undo) of VM 2, then a failing start of VM 1
		vars := setVars(rs(vmT, ColVmRowStatus, RowDestroy, 2), sv(vmT, ColVmState, gosnmp.Integer, int(StateRunning), 1))
		st, idx := status(h.CommitSet(context.Background(), r, vars))
		if st != gosnmp.UndoFailed || idx != 2 {
			t.Fatalf("CommitSet: %v at %d, want undoFailed at 2", st, idx)
		}
	})
	t.Run("partial", func(t *testing.T) {
		f := &partialCtl{fakeCtl: newFake()}
		h := NewHandler(nil, WithController(f))
		st, _ := status(h.CommitSet(context.Background(), r, setVars(rs(vmT, ColVmRowStatus, RowCreateAndGo, 5))))
		if st != gosnmp.UndoFailed {
			t.Fatalf("CommitSet: %v, want undoFailed", st)
		}
	})
}

type partialCtl struct{ *fakeCtl }

func (p *partialCtl) Create(context.Context, CreateSpec) error {
	return fmt.Errorf("start: boom: %w", ErrPartial)
}

// TestCreateWithTemplateDisk: the new VM gets a copy of storageTemplate's image, else
// of the template's; an image on another host or outside pools is refused, and so is a
// template with more memory than the host has.
func TestCreateWithTemplateDisk(t *testing.T) {
	r := &snmp.Request{Context: "h1", Principal: snmp.Principal{Name: "admin", Access: snmp.ReadWrite}}
	vars := setVars(rs(VirtualMachinesTable, ColVmRowStatus, RowCreateAndGo, 5))
	tplImage := func(i uint32) func(*fakeCtl) {
		return func(f *fakeCtl) { tp := f.templates[1]; tp.Image = i; f.templates[1] = tp }
	}
	for _, tc := range []struct {
		name string
		set  func(*fakeCtl)
		want gosnmp.SNMPError
		call string
	}{
		{"storageTemplate", func(f *fakeCtl) { f.stor = 7 }, gosnmp.NoError, `create 5 h1 "" mem=0 start=true img=7`},
		{"templateDiskImageIndex", tplImage(7), gosnmp.NoError, `create 5 h1 "" mem=0 start=true img=7`},
		{"storageTemplate first", func(f *fakeCtl) { tplImage(99)(f); f.stor = 7 }, gosnmp.NoError, `create 5 h1 "" mem=0 start=true img=7`},
		{"image of another host", func(f *fakeCtl) { f.stor = 8 }, gosnmp.InconsistentValue, ""},
		{"image outside pools", func(f *fakeCtl) { f.images[9] = ImageInfo{Index: 9, Host: "h1", Path: "/x.img"}; f.stor = 9 }, gosnmp.InconsistentValue, ""},
		{"no such image", tplImage(99), gosnmp.InconsistentValue, ""},
		{"template memory above the host's", func(f *fakeCtl) { tp := f.templates[1]; tp.MemoryMb = 16384; f.templates[1] = tp }, gosnmp.InconsistentValue, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			tc.set(f)
			h := NewHandler(nil, WithController(f))
			st, idx := status(h.TestSet(context.Background(), r, vars))
			if tc.want != gosnmp.NoError {
				if st != tc.want || idx != 1 {
					t.Fatalf("got %v at %d, want %v at 1", st, idx, tc.want)
				}
				return
			}
			if st != gosnmp.NoError {
				t.Fatalf("TestSet: %v at %d", st, idx)
			}
			if err := h.CommitSet(context.Background(), r, vars); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(f.calls) != "["+tc.call+"]" {
				t.Fatalf("calls %q, want %q", f.calls, tc.call)
			}
		})
	}
}

func TestReadOnlyWithoutController(t *testing.T) {
	h := NewHandler(nil)
	r := &snmp.Request{Context: "h1"}
	st, idx := status(h.TestSet(context.Background(), r, setVars(sv(VirtualMachinesTable, ColVmState, gosnmp.Integer, 2, 1))))
	if st != gosnmp.NotWritable || idx != 1 {
		t.Fatalf("got %v at %d, want notWritable at 1", st, idx)
	}
}

// lockingCtl is a fakeCtl that is also a sync.Locker and checks it is held on commit.
type lockingCtl struct {
	*fakeCtl
	held, sawHeld bool
}

func (l *lockingCtl) Lock()   { l.held = true }
func (l *lockingCtl) Unlock() { l.held = false }
func (l *lockingCtl) SetState(ctx context.Context, h string, id uint32, to VMState) error {
	l.sawHeld = l.held
	return l.fakeCtl.SetState(ctx, h, id, to)
}

func TestCommitHoldsLocker(t *testing.T) {
	l := &lockingCtl{fakeCtl: newFake()}
	h := NewHandler(nil, WithController(l))
	r := &snmp.Request{Context: "h1", Principal: snmp.Principal{Name: "admin", Access: snmp.ReadWrite}}
	vars := setVars(sv(VirtualMachinesTable, ColVmState, gosnmp.Integer, int(StateRunning), 1))
	if err := h.CommitSet(context.Background(), r, vars); err != nil {
		t.Fatal(err)
	}
	if !l.sawHeld || l.held {
		t.Fatalf("lock held during the change: %v, after: %v", l.sawHeld, l.held)
	}
}

// TestTemplateFile: templateXmlFile names a file directly in the template directory,
// written clean; whatever cleaning would make of it is not looked at (issue 10,
// finding 12: "DIR/t.xml/x/.." passed).
func TestTemplateFile(t *testing.T) {
	const dir = "/etc/vmgate/templates"
	for _, tc := range []struct {
		path, want string
		ok         bool
	}{
		{"t.xml", "t.xml", true},
		{dir + "/t.xml", "t.xml", true},
		{dir + "//t.xml", "", false},
		{dir + "/t.xml/x/..", "", false},
		{dir + "/./t.xml", "", false},
		{dir + "/sub/t.xml", "", false},
		{dir + "/../t.xml", "", false},
		{"/etc/passwd", "", false},
		{"sub/t.xml", "", false},
		{"./t.xml", "", false},
		{"..", "", false},
		{".", "", false},
		{"", "", false},
		{dir, "", false},
		{"/", "", false},
	} {
		name, ok := TemplateFile(dir, tc.path)
		if name != tc.want || ok != tc.ok {
			t.Errorf("TemplateFile(%q) = %q, %v; want %q, %v", tc.path, name, ok, tc.want, tc.ok)
		}
	}
	if _, ok := TemplateFile("", "/t.xml"); ok {
		t.Error("an absolute path accepted without a template directory")
	}
}

// TestTemplatesUnavailable: while the template store cannot change (replicas without
// etcd quorum), every template change answers resourceUnavailable in the test phase,
// after the other checks; a VM is still created from the current template, which is
// only read.
func TestTemplatesUnavailable(t *testing.T) {
	tplT := VirtualMachineTemplateTable
	scalar := func(s *Scalar, v uint) snmp.VarBind {
		return snmp.VarBind{OID: s.Instance(), Type: gosnmp.Gauge32, Value: v}
	}
	tests := []struct {
		name  string
		vars  []snmp.VarBind
		want  gosnmp.SNMPError
		index int
	}{
		{"create a template", []snmp.VarBind{sv(tplT, ColDomainTemplateName, gosnmp.OctetString, []byte("big"), 4), rs(tplT, ColTemplateRowStatus, RowCreateAndGo, 4)}, gosnmp.ResourceUnavailable, 2},
		{"destroy a template", []snmp.VarBind{rs(tplT, ColTemplateRowStatus, RowDestroy, 2)}, gosnmp.ResourceUnavailable, 1},
		{"destroying the current template is still inconsistent", []snmp.VarBind{rs(tplT, ColTemplateRowStatus, RowDestroy, 1)}, gosnmp.InconsistentValue, 1},
		{"choose the template", []snmp.VarBind{scalar(VirtualMachineTemplate, 1)}, gosnmp.ResourceUnavailable, 1},
		{"choose the storage template", []snmp.VarBind{scalar(StorageTemplate, 7)}, gosnmp.ResourceUnavailable, 1},
		{"an unknown template is still inconsistent", []snmp.VarBind{scalar(VirtualMachineTemplate, 5)}, gosnmp.InconsistentValue, 1},
		{"destroying no template changes nothing", []snmp.VarBind{rs(tplT, ColTemplateRowStatus, RowDestroy, 77)}, gosnmp.NoError, 0},
		{"create a VM", []snmp.VarBind{rs(VirtualMachinesTable, ColVmRowStatus, RowCreateAndGo, 5)}, gosnmp.NoError, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			f.tplDown = errors.New("etcd without quorum")
			f.templates[2] = TemplateInfo{Index: 2, Name: "other", MemoryMb: 64, VCPUs: 1, Status: RowActive}
			h := NewHandler(nil, WithController(f))
			r := &snmp.Request{Context: "h1", Principal: snmp.Principal{Name: "admin", Access: snmp.ReadWrite, AllContexts: true}}
			if st, idx := status(h.TestSet(context.Background(), r, setVars(tt.vars...))); st != tt.want || idx != tt.index {
				t.Fatalf("TestSet: %v at %d, want %v at %d", st, idx, tt.want, tt.index)
			}
			if len(f.calls) != 0 {
				t.Fatalf("TestSet changed something: %v", f.calls)
			}
		})
	}
}

func TestSetScope(t *testing.T) {
	vmT, memT, tplT := VirtualMachinesTable, MemoryTable, VirtualMachineTemplateTable
	host := func(s string, id uint32) snmp.VarBind { return sv(vmT, ColVmHost, gosnmp.OctetString, []byte(s), id) }
	state := func(s VMState, id uint32) snmp.VarBind { return sv(vmT, ColVmState, gosnmp.Integer, int(s), id) }
	tests := []struct {
		name   string
		scope  string
		vars   []snmp.VarBind
		hosts  []string
		global bool
	}{
		{"host context", "h1", []snmp.VarBind{state(StateRunning, 1)}, []string{"h1"}, false},
		{"merged: each VM's host, sorted", "", []snmp.VarBind{state(StateRunning, 3), sv(memT, ColMemoryTotalMb, gosnmp.Gauge32, uint(64), 1)}, []string{"h1", "h2"}, false},
		{"create in a host context", "h1", []snmp.VarBind{rs(vmT, ColVmRowStatus, RowCreateAndGo, 50)}, []string{"h1"}, true},
		{"create in the merged context: vmHost", "", []snmp.VarBind{rs(vmT, ColVmRowStatus, RowCreateAndWait, 50), host("h2", 50)}, []string{"h2"}, true},
		{"templates", "", []snmp.VarBind{sv(tplT, ColTemplateMemoryMb, gosnmp.Gauge32, uint(64), 1)}, nil, true},
		{"current template", "", []snmp.VarBind{{OID: VirtualMachineTemplate.OID.Append(0), Type: gosnmp.Gauge32, Value: uint(1)}}, nil, true},
		{"refused varbind adds nothing", "h1", []snmp.VarBind{sv(vmT, ColVmUUID, gosnmp.OctetString, []byte("x"), 1)}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHandler(nil, WithController(newFake()))
			r := &snmp.Request{Context: tc.scope, Principal: snmp.Principal{AllContexts: true}}
			got, global := h.SetScope(r, setVars(tc.vars...))
			if !slices.Equal(got, tc.hosts) || global != tc.global {
				t.Fatalf("SetScope = %v, %v; want %v, %v", got, global, tc.hosts, tc.global)
			}
		})
	}
}
