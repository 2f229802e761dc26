package mibview

import (
	"cmp"
	"strings"
	"unicode/utf8"

	"github.com/vmgate/vmgate/gateway/cluster"
	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/templates"
	"github.com/vmgate/vmgate/gateway/view"

	"path"
	"slices"
	"sync"
	"time"

	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
)

// Adapter adapts the merged view (and the registry and the template store) to
// mib.View: the VIRTUAL-MACHINES-MIB handler reads through it, one snapshot per SNMP
// request. Safe for concurrent use.
type Adapter struct {
	view *view.View
	reg  registry.Store
	tpl  templates.Store // nil: no templates
	reps Replicas        // nil: one gateway, no replicaTable rows
	// The gateway as VM-MIB's merged context shows it (vmHvVersion, vmHvUpTime).
	version string
	started time.Time

	confDirs sync.Map // host URI -> directory of persistent definitions ("" unknown)
}

var _ mib.View = (*Adapter)(nil)

// Replicas lists the replicas of the cluster (cluster.Cluster), by replicaIndex.
type Replicas interface {
	Members() []cluster.Member
}

// Option configures an Adapter.
type Option func(*Adapter)

// WithReplicas gives replicaTable its rows (the merged context only); without it the
// table is empty.
func WithReplicas(r Replicas) Option { return func(m *Adapter) { m.reps = r } }

// WithAgent gives the gateway's version and start, which VM-MIB's hypervisor group
// shows in the merged context (without it: no version, and the adapter's creation).
func WithAgent(version string, started time.Time) Option {
	return func(m *Adapter) { m.version, m.started = version, started }
}

// New returns the MIB's view of v; reg answers vmIndexNext, tpl (may be nil) gives the
// template rows and the current templates.
func New(v *view.View, reg registry.Store, tpl templates.Store, opts ...Option) *Adapter {
	m := &Adapter{view: v, reg: reg, tpl: tpl, started: time.Now()}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Snapshot implements mib.View: one read of the view.
func (m *Adapter) Snapshot(ctx string) mib.Snapshot {
	return &mibSnap{m: m, s: m.view.Read(), ctx: ctx}
}

// mibSnap is one request's picture. It serves one PDU, whose varbinds the engine
// handles in sequence: like the view's snapshot it holds, it is not for concurrent use.
type mibSnap struct {
	m   *Adapter
	s   *view.Snapshot
	ctx string

	tplOnce    sync.Once
	tpls       []templates.Template
	choiceOnce sync.Once
	choice     [2]uint32
	repOnce    sync.Once
	reps       []cluster.Member
	confHost   *view.HostEntry // the host confDirVal is of
	confDirVal string
	lastImage  *view.DiskImage // DiskImageInto's last row, for DiskImageCapacity
}

func (ms *mibSnap) Known() bool {
	if ms.ctx == "" {
		return true
	}
	_, ok := ms.s.Host(ms.ctx)
	return ok
}

func (ms *mibSnap) Host() (mib.HypervisorRow, bool) {
	if ms.ctx == "" {
		return mib.HypervisorRow{}, false
	}
	e, ok := ms.s.Host(ms.ctx)
	if !ok {
		return mib.HypervisorRow{}, false
	}
	return hypervisorRow(e), true
}

func (ms *mibSnap) IndexNext() uint32 {
	if ms.m.reg == nil {
		return 0
	}
	return ms.m.reg.NextFree(registry.NSVM)
}

func (ms *mibSnap) StorageIndexNext() uint32 {
	if ms.m.reg == nil {
		return 0
	}
	return ms.m.reg.NextFree(registry.NSStorage)
}

// TemplateChoice implements mib.Snapshot, once per snapshot (the store rescans its
// directory on every call).
func (ms *mibSnap) TemplateChoice() (uint32, uint32) {
	if ms.m.tpl == nil {
		return 0, 0
	}
	ms.choiceOnce.Do(func() { ms.choice[0], ms.choice[1] = ms.m.tpl.Current() })
	return ms.choice[0], ms.choice[1]
}

func (ms *mibSnap) Hypervisor(from uint32) (mib.HypervisorRow, bool) {
	if ms.ctx != "" { // a host's context shows that host only
		e, ok := ms.s.Host(ms.ctx)
		if !ok || e.Index < from {
			return mib.HypervisorRow{}, false
		}
		return hypervisorRow(e), true
	}
	for e := range ms.s.Hosts(from) {
		return hypervisorRow(e), true
	}
	return mib.HypervisorRow{}, false
}

func hypervisorRow(e *view.HostEntry) mib.HypervisorRow {
	hv, h := &e.Hypervisor, &e.Health
	last := h.LastSync
	if last.IsZero() {
		last = e.SyncedAt
	}
	conn := mib.ConnConnecting
	switch h.Status {
	case hosts.Up:
		conn = mib.ConnConnected
	case hosts.Down:
		conn = mib.ConnDisconnected
	}
	return mib.HypervisorRow{
		Index: e.Index, Name: e.Name, URI: hosts.PublicURI(e.URI), Type: hv.Type, Version: hv.Version,
		LibvirtVersion: hv.LibvirtVersion, Hostname: hv.Hostname, CPUModel: hv.Node.Model,
		CPUs: hv.Node.CPUs, MHz: hv.Node.MHz, MemoryKiB: hv.Node.MemoryKiB, Conn: conn,
		LastError: elide(h.LastError, lastErrorSize), LastSync: last, LastSyncTook: h.LastSyncDuration,
		VMCount: uint32(max(e.VMs, 0)),
	}
}

func (ms *mibSnap) VM(from uint32) (mib.VMRow, bool) {
	var row mib.VMRow
	ok := ms.VMInto(from, &row)
	return row, ok
}

// fillVM writes the mib row of r into row, field by field: built in a value and
// copied, the ~220-byte row cost two copies per varbind of a walk.
func (ms *mibSnap) fillVM(r view.VMRow, row *mib.VMRow) {
	d := &r.Domain
	*row = mib.VMRow{}
	row.ID, row.UUID, row.Name, row.Host = r.VMID, d.UUID, d.Name, r.Host
	row.OSIndex, row.KernelIndex, row.State, row.Stale = r.OSIndex, r.KernelIndex, mib.VMState(int(d.State)+1), r.Stale
	row.Autostart, row.Persistent = d.Autostart, d.Persistent
	row.VCPUs, row.MaxVCPUs = uint32(max(d.VCPUs, 0)), uint32(max(d.MaxVCPUs, 0))
	row.MemoryKiB, row.MaxMemKiB = d.CurrentMemoryKiB, d.MemoryKiB
	if row.MemoryKiB == 0 {
		row.MemoryKiB = d.MemoryKiB
	}
	if row.OSType = d.OSInfoID; row.OSType == "" {
		row.OSType = d.OSType
	}
	row.Admin, row.Oper = stdStates(d.State, d.Reason)
	if e, ok := ms.s.Host(r.Host); ok {
		row.ConfDir = ms.confDir(e)
	}
	if !r.Stale && row.State.Active() && !r.RunSeen.IsZero() {
		row.Uptime = ms.s.Now().Sub(r.RunSeen)
	}
}

// VMCounters implements mib.Snapshot: the counters of the VM row r, from its record's
// host's last poll (a map lookup VM leaves to the columns that show them).
func (ms *mibSnap) VMCounters(row *mib.VMRow) {
	r, ok := ms.s.SeekVM(ms.ctx, row.ID) // the cursor's last answer again
	if !ok || r.VMID != row.ID {
		return
	}
	ds, fresh := ms.s.DomainStats(r)
	row.Counters = fresh
	if fresh {
		row.CPUTimeNs = ds.CPUTimeNs
		if ds.HasBalloon {
			row.BalloonKiB, row.RSSKiB, row.FreeKiB = ds.BalloonCurrentKiB, ds.BalloonRSSKiB, ds.BalloonUnusedKiB
			if ds.BalloonAvailableKiB > ds.BalloonUnusedKiB && ds.BalloonUnusedKiB > 0 {
				row.UsedKiB = ds.BalloonAvailableKiB - ds.BalloonUnusedKiB
			}
		}
	}
}

// confDir is Adapter.confDir of a host, remembered for the host of the last call
// (a walk shows one host's VMs after another).
func (ms *mibSnap) confDir(e *view.HostEntry) string {
	if ms.confHost != e {
		ms.confHost, ms.confDirVal = e, ms.m.confDir(e.URI)
	}
	return ms.confDirVal
}

// confDir returns where the URI's daemon keeps persistent definitions (hosts.ConfDir),
// parsed once per URI.
func (m *Adapter) confDir(uri string) string {
	if v, ok := m.confDirs.Load(uri); ok {
		return v.(string)
	}
	dir := hosts.ConfDir(uri)
	m.confDirs.Store(uri, dir)
	return dir
}

// subRow finds the first sub-row >= (vmID, sub) of the VMs of the context: in VM
// vmID from sub on, else the first sub-row of a following VM. at(r, sub) returns the
// first sub-row of r whose index is >= sub.
func subRow[R any](ms *mibSnap, vmID, sub uint32, at func(r view.VMRow, sub uint32) (R, bool)) (R, bool) {
	var zero R
	for next := uint64(vmID); next <= registry.MaxIndex; {
		r, ok := ms.s.SeekVM(ms.ctx, uint32(next))
		if !ok {
			return zero, false
		}
		from := uint32(0)
		if r.VMID == vmID {
			from = sub
		}
		if row, ok := at(r, from); ok {
			return row, true
		}
		next = uint64(r.VMID) + 1
	}
	return zero, false
}

// device is subRow over one kind of device, the VM and the device found: from(r, sub)
// is the view's lookup of r's first device with an index >= sub (DiskFrom, NICFrom).
func device[D any](ms *mibSnap, vmID, sub uint32, from func(view.VMRow, uint32) (*D, bool)) (view.VMRow, *D, bool) {
	var d *D
	r, ok := subRow(ms, vmID, sub, func(r view.VMRow, sub uint32) (view.VMRow, bool) {
		var ok bool
		d, ok = from(r, sub)
		return r, ok
	})
	return r, d, ok
}

// deviceRow is subRow over one kind of device: from(r, sub) is the view's lookup of
// r's first device with an index >= sub (DiskFrom, NICFrom, HBAFrom), row its MIB row.
func deviceRow[D, R any](ms *mibSnap, vmID, sub uint32, from func(view.VMRow, uint32) (*D, bool),
	row func(view.VMRow, *D) R) (R, bool) {
	return subRow(ms, vmID, sub, func(r view.VMRow, sub uint32) (R, bool) {
		d, ok := from(r, sub)
		if !ok {
			var zero R
			return zero, false
		}
		return row(r, d), true
	})
}

func (ms *mibSnap) CPU(vmID, cpu uint32) (mib.CPURow, bool) {
	var row mib.CPURow
	r, idx, ok := ms.cpuAt(vmID, cpu)
	if ok {
		ms.fillCPU(r, idx, &row)
		ms.cpuCounters(r, &row)
	}
	return row, ok
}

// cpuAt finds the first vCPU row >= (vmID, cpu): its VM and its cpuIndex.
func (ms *mibSnap) cpuAt(vmID, cpu uint32) (view.VMRow, uint32, bool) {
	var idx uint32
	r, ok := subRow(ms, vmID, cpu, func(r view.VMRow, from uint32) (view.VMRow, bool) {
		idx = max(from, 1)
		return r, idx <= uint32(max(r.Domain.VCPUs, 0))
	})
	return r, idx, ok
}

// CPUInto implements mib.DeviceFiller: the row without its state and time.
func (ms *mibSnap) CPUInto(vmID, cpu uint32, dst *mib.CPURow) bool {
	r, idx, ok := ms.cpuAt(vmID, cpu)
	if ok {
		ms.fillCPU(r, idx, dst)
	}
	return ok
}

// CPUCounters implements mib.DeviceFiller.
func (ms *mibSnap) CPUCounters(row *mib.CPURow) {
	// The seek of the row again: the cursor's last answer.
	if r, idx, ok := ms.cpuAt(row.VMID, row.Index); ok && r.VMID == row.VMID && idx == row.Index {
		ms.cpuCounters(r, row)
	}
}

func (ms *mibSnap) fillCPU(r view.VMRow, idx uint32, row *mib.CPURow) {
	*row = mib.CPURow{VMID: r.VMID, Index: idx, UUID: r.Domain.UUID, Arch: r.Domain.Arch}
	if e, ok := ms.s.Host(r.Host); ok {
		row.MHz = e.Hypervisor.Node.MHz
	}
}

// cpuCounters adds vCPU row.Index-1's state and time, from the domain's stats.
func (ms *mibSnap) cpuCounters(r view.VMRow, row *mib.CPURow) {
	ds, fresh := ms.s.DomainStats(r)
	row.Counters = fresh
	if fresh {
		row.State = mib.CPUOffline
		for _, v := range ds.VCPUs {
			if v.Number == int32(row.Index-1) {
				row.State, row.TimeNs = mib.CPUState(v.State+1), v.TimeNs
			}
		}
	}
}

// deviceRows is one kind of device's rows: from is the view's lookup of a VM's first
// device with an index >= sub (DiskFrom, NICFrom), index a device's, fill writes its
// mib row but for what counters adds (as VM and VMCounters).
type deviceRows[D, R any] struct {
	from     func(view.VMRow, uint32) (*D, bool)
	index    func(*D) uint32
	fill     func(*mibSnap, view.VMRow, *D, *R)
	counters func(*mibSnap, view.VMRow, *D, *R)
}

var (
	diskRows = deviceRows[view.Disk, mib.StorageRow]{view.VMRow.DiskFrom,
		func(d *view.Disk) uint32 { return d.StorageIndex }, (*mibSnap).fillStorage, (*mibSnap).storageCounters}
	nicRows = deviceRows[view.NIC, mib.NetworkRow]{view.VMRow.NICFrom,
		func(n *view.NIC) uint32 { return n.NetworkIndex }, (*mibSnap).fillNetwork, (*mibSnap).networkCounters}
)

// row is the whole row of the first device >= (vmID, idx).
func (k *deviceRows[D, R]) row(ms *mibSnap, vmID, idx uint32) (R, bool) {
	var row R
	r, d, ok := device(ms, vmID, idx, k.from)
	if ok {
		k.fill(ms, r, d, &row)
		k.counters(ms, r, d, &row)
	}
	return row, ok
}

// into is row without the counters, written into dst.
func (k *deviceRows[D, R]) into(ms *mibSnap, vmID, idx uint32, dst *R) bool {
	r, d, ok := device(ms, vmID, idx, k.from)
	if ok {
		k.fill(ms, r, d, dst)
	}
	return ok
}

// addCounters adds the counters to the row of device (vmID, idx) into wrote.
func (k *deviceRows[D, R]) addCounters(ms *mibSnap, vmID, idx uint32, row *R) {
	// The seek of the row again: the cursor's last answer.
	if r, d, ok := device(ms, vmID, idx, k.from); ok && r.VMID == vmID && k.index(d) == idx {
		k.counters(ms, r, d, row)
	}
}

func (ms *mibSnap) Storage(vmID, idx uint32) (mib.StorageRow, bool) {
	return diskRows.row(ms, vmID, idx)
}

// StorageInto implements mib.DeviceFiller: the row without its capacity and counters.
func (ms *mibSnap) StorageInto(vmID, idx uint32, dst *mib.StorageRow) bool {
	return diskRows.into(ms, vmID, idx, dst)
}

// StorageCounters implements mib.DeviceFiller.
func (ms *mibSnap) StorageCounters(row *mib.StorageRow) {
	diskRows.addCounters(ms, row.VMID, row.Index, row)
}

// fillStorage writes the mib row of r's disk d into row, field by field (as fillVM),
// but for what storageCounters adds.
func (ms *mibSnap) fillStorage(r view.VMRow, d *view.Disk, row *mib.StorageRow) {
	*row = mib.StorageRow{}
	row.VMID, row.Index, row.UUID = r.VMID, d.StorageIndex, r.Domain.UUID
	row.Device, row.DiskImageIndex, row.Target, row.Bus = StorageDevice(d.Device), d.DiskImageIndex, d.Target, d.Bus
	row.SourceType, row.Format, row.ReadOnly, row.Media = stdSource(d.Type, d.Source, d.Format), d.Format, d.ReadOnly, stdMedia(d.Device)
	if row.ResourceID = d.ImagePath; row.ResourceID == "" {
		row.ResourceID = d.Source
	}
}

// storageCounters adds the capacity and the counters of r's disk d to its row: a map
// lookup and an image search, which the walk leaves to the columns showing them.
func (ms *mibSnap) storageCounters(r view.VMRow, d *view.Disk, row *mib.StorageRow) {
	ds, fresh := ms.s.DomainStats(r)
	row.Counters = fresh
	var blk *hosts.BlockStats
	for i := range ds.Blocks {
		if ds.Blocks[i].Name == d.Target {
			blk = &ds.Blocks[i]
		}
	}
	if d.DiskImageIndex != 0 {
		if im := ms.s.HostImage(r.Host, d.DiskImageIndex); im != nil && im.Volume != nil {
			row.Capacity, row.Allocation = im.Volume.Capacity, im.Volume.Allocation
		} else {
			row.Capacity, row.Allocation = d.Capacity, d.Allocation
		}
	}
	if blk != nil {
		// The stats' capacity follows a live resize. Their allocation is not the
		// image's: for QEMU it is the highest offset written since the process
		// started (0 for a view.VM that has not written yet).
		if blk.Capacity != 0 {
			row.Capacity = blk.Capacity
		}
		row.ReadReqs, row.ReadBytes, row.WriteReqs, row.WriteBytes = blk.RdReqs, blk.RdBytes, blk.WrReqs, blk.WrBytes
		row.ReadTimeNs, row.WriteTimeNs = blk.RdTimesNs, blk.WrTimesNs
	}
}

// storageDevices pairs libvirt's disk devices with their storageDevice, for both
// directions; any other device is a disk.
var storageDevices = [...]struct {
	name string
	dev  mib.StorageDevice
}{{"cdrom", mib.DeviceCdRom}, {"floppy", mib.DeviceFloppy}, {"lun", mib.DeviceLun}}

// StorageDevice is the storageDevice of a libvirt disk device (disk, cdrom...).
func StorageDevice(s string) mib.StorageDevice {
	for _, d := range storageDevices {
		if d.name == s {
			return d.dev
		}
	}
	return mib.DeviceDisk
}

// DeviceName is libvirt's name of a storageDevice: StorageDevice's inverse.
func DeviceName(dev mib.StorageDevice) string {
	for _, d := range storageDevices {
		if d.dev == dev {
			return d.name
		}
	}
	return "disk"
}

func (ms *mibSnap) Network(vmID, idx uint32) (mib.NetworkRow, bool) {
	return nicRows.row(ms, vmID, idx)
}

// NetworkInto implements mib.DeviceFiller: the row without its counters.
func (ms *mibSnap) NetworkInto(vmID, idx uint32, dst *mib.NetworkRow) bool {
	return nicRows.into(ms, vmID, idx, dst)
}

// NetworkCounters implements mib.DeviceFiller.
func (ms *mibSnap) NetworkCounters(row *mib.NetworkRow) {
	nicRows.addCounters(ms, row.VMID, row.Index, row)
}

// fillNetwork writes the mib row of r's NIC n into row, field by field (as fillVM),
// but for its counters.
func (ms *mibSnap) fillNetwork(r view.VMRow, n *view.NIC, row *mib.NetworkRow) {
	*row = mib.NetworkRow{}
	row.VMID, row.Index, row.UUID, row.MAC = r.VMID, n.NetworkIndex, r.Domain.UUID, parseMAC(n.MAC)
	row.Model, row.SourceType, row.Source, row.Target = n.Model, sourceType(n.Type), n.Source, n.Target
}

// networkCounters adds the counters of r's NIC n to its row (the domain's stats: a map
// lookup and a copy when the VM changes, every row of a column).
func (ms *mibSnap) networkCounters(r view.VMRow, n *view.NIC, row *mib.NetworkRow) {
	ds, fresh := ms.s.DomainStats(r)
	row.Counters = fresh
	for i := range ds.Nets {
		if s := &ds.Nets[i]; n.Target != "" && s.Name == n.Target {
			row.InOctets, row.InPackets, row.InErrors, row.InDrops = s.RxBytes, s.RxPkts, s.RxErrs, s.RxDrop
			row.OutOctets, row.OutPackets, row.OutErrors, row.OutDrops = s.TxBytes, s.TxPkts, s.TxErrs, s.TxDrop
		}
	}
}

func sourceType(t string) mib.SourceType {
	switch t {
	case "bridge":
		return mib.SourceBridge
	case "network":
		return mib.SourceNetwork
	case "direct":
		return mib.SourceDirect
	case "user":
		return mib.SourceUser
	}
	return mib.SourceOther
}

// parseMAC parses aa:bb:cc:dd:ee:ff without allocating; a malformed MAC reads zero.
func parseMAC(s string) [6]byte {
	var mac [6]byte
	if len(s) != 17 {
		return mac
	}
	for i := range mac {
		hi, ok1 := unhex(s[3*i])
		lo, ok2 := unhex(s[3*i+1])
		if !ok1 || !ok2 || (i < 5 && s[3*i+2] != ':' && s[3*i+2] != '-') {
			return [6]byte{}
		}
		mac[i] = hi<<4 | lo
	}
	return mac
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func (ms *mibSnap) HBA(vmID, idx uint32) (mib.HBARow, bool) {
	return deviceRow(ms, vmID, idx, view.VMRow.HBAFrom, hbaRow)
}

func hbaRow(r view.VMRow, h *view.HBA) mib.HBARow {
	return mib.HBARow{VMID: r.VMID, Index: h.HBAIndex, UUID: r.Domain.UUID, Type: h.Type, Model: h.Model,
		ControllerIndex: uint32(max(h.Index, 0))}
}

func (ms *mibSnap) DiskImage(from uint32) (mib.DiskImageRow, bool) {
	var row mib.DiskImageRow
	ok := ms.DiskImageInto(from, &row)
	if ok {
		ms.DiskImageCapacity(&row)
	}
	return row, ok
}

// DiskImageInto implements mib.ImageFiller: the row, its capacity as the image record
// has it.
func (ms *mibSnap) DiskImageInto(from uint32, row *mib.DiskImageRow) bool {
	im := ms.s.SeekImage(ms.ctx, from)
	if ms.lastImage = im; im == nil {
		return false
	}
	*row = mib.DiskImageRow{}
	row.Index, row.Path, row.Host, row.Name = im.Index, im.Path, im.Host, path.Base(im.Path)
	row.Format, row.Capacity, row.Allocation = im.Format, im.Capacity, im.Allocation
	if v := im.Volume; v != nil {
		row.Pool, row.Name, row.Capacity, row.Allocation = v.Pool, v.Name, v.Capacity, v.Allocation
	}
	return true
}

// DiskImageCapacity implements mib.ImageFiller: an image outside pools shows the
// capacity of the running domain's disk its size comes from.
func (ms *mibSnap) DiskImageCapacity(row *mib.DiskImageRow) {
	im := ms.lastImage
	if im == nil || im.Index != row.Index {
		if im = ms.s.SeekImage(ms.ctx, row.Index); im == nil || im.Index != row.Index {
			return
		}
	}
	if im.Volume == nil {
		if blk := ms.imageBlock(im); blk != nil {
			row.Capacity = blk.Capacity // as fillStorage: the stats' allocation is not the image's
		}
	}
}

// imageBlock returns the latest stats of the disk whose capacity an image outside pools
// shows, when its domain runs and its host's stats are current; else nil.
func (ms *mibSnap) imageBlock(im *view.DiskImage) *hosts.BlockStats {
	if im.SizeFrom.Target == "" {
		return nil
	}
	st, fresh := ms.s.Stats(im.Host)
	if !fresh {
		return nil
	}
	ds, ok := st.Domain(im.SizeFrom.UUID)
	if !ok {
		return nil
	}
	for i := range ds.Blocks {
		if b := &ds.Blocks[i]; b.Name == im.SizeFrom.Target && b.Capacity != 0 {
			return b
		}
	}
	return nil
}

func (ms *mibSnap) OS(from uint32) (mib.OSRow, bool) {
	for o := range ms.s.OSes(ms.ctx, from) {
		return mib.OSRow{Index: o.Index, OSInfoID: o.OSInfoID, OSType: o.OSType, Agent: mib.AgentOS{
			ID: o.Agent.ID, Name: o.Agent.Name, VersionID: o.Agent.VersionID, PrettyName: o.Agent.PrettyName}}, true
	}
	return mib.OSRow{}, false
}

func (ms *mibSnap) Kernel(from uint32) (mib.KernelRow, bool) {
	for k := range ms.s.Kernels(ms.ctx, from) {
		return mib.KernelRow{Index: k.Index, Path: k.Kernel, Initrd: k.Initrd, Cmdline: k.Cmdline}, true
	}
	return mib.KernelRow{}, false
}

// Template implements mib.Snapshot: the template store's rows, the same in every
// context. The list is read once per snapshot (the store rescans its directory).
func (ms *mibSnap) Template(from uint32) (mib.TemplateRow, bool) {
	if ms.m.tpl == nil {
		return mib.TemplateRow{}, false
	}
	ms.tplOnce.Do(func() { ms.tpls = ms.m.tpl.List() })
	i, _ := slices.BinarySearchFunc(ms.tpls, from, func(t templates.Template, k uint32) int { return cmp.Compare(t.Index, k) })
	if i == len(ms.tpls) {
		return mib.TemplateRow{}, false
	}
	t := &ms.tpls[i]
	return mib.TemplateRow{Index: t.Index, Name: t.Name, MemoryMiB: t.MemoryMb, VCPUs: t.VCPUs,
		DiskImageIndex: t.Image, XMLFile: t.Path(ms.m.tpl.Dir()), Status: mib.RowActive}, true
}

// Replica implements mib.Snapshot: the cluster's replicas, read once per snapshot, in
// the merged context only.
func (ms *mibSnap) Replica(from uint32) (mib.ReplicaRow, bool) {
	if ms.ctx != "" || ms.m.reps == nil {
		return mib.ReplicaRow{}, false
	}
	ms.repOnce.Do(func() { ms.reps = ms.m.reps.Members() })
	i, _ := slices.BinarySearchFunc(ms.reps, from, func(m cluster.Member, f uint32) int { return cmp.Compare(m.Index, f) })
	if i == len(ms.reps) {
		return mib.ReplicaRow{}, false
	}
	return ReplicaRow(ms.reps[i]), true
}

// ReplicaRow is a replica's row of replicaTable (and the objects of replicaChange).
func ReplicaRow(m cluster.Member) mib.ReplicaRow {
	state := mib.ReplicaUnknown
	switch m.State {
	case cluster.Up:
		state = mib.ReplicaUp
	case cluster.Degraded:
		state = mib.ReplicaDegraded
	}
	return mib.ReplicaRow{Index: m.Index, Name: m.Name, Addresses: strings.Join(m.Addresses, " "), State: state,
		UpSince: m.UpSince, LastHeartbeat: m.Heartbeat}
}

// lastErrorSize is hypervisorLastError's size (SnmpAdminString, 255 octets).
const lastErrorSize = 255

// elide shortens s to at most n octets by cutting its middle: a wrapped error starts
// with what was being done and ends with the cause. The log line has the full text.
func elide(s string, n int) string {
	const dots = " ... "
	if len(s) <= n {
		return s
	}
	head := (n - len(dots)) / 3
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	tail := len(s) - (n - len(dots) - head)
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	return s[:head] + dots + s[tail:]
}
