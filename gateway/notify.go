package gateway

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/snmp"
)

// notifyTimeout bounds one notification to all targets (an inform receiver that does
// not answer is retried by the engine meanwhile).
const notifyTimeout = 30 * time.Second

// vmIDWait bounds the wait for the vmId of a VM whose first event came before the
// view stored it (a new definition: the view's re-read follows the event).
const vmIDWait = 5 * time.Second

// notifier sends the module's notifications: vmStateChange once per libvirt lifecycle
// event (with the state the event announced, queued by eventSink) and once per
// difference a resync after a reconnection finds; hostConnectionChange when a
// hypervisor connection goes up or down, its objects read through the MIB handler in
// the merged context just after the change. It also sends replicaChange when another
// replica joins or leaves; that one carries the replica's record (a replica that left
// has no row to read).
//
// One queue, bounded by snmp.notify_queue, keeps the order of the VM and host
// notifications; a notification it cannot take is counted (vmNotificationsDropped)
// and logged, never dropped silently.
type notifier struct {
	engine  *snmp.Engine
	h       snmp.Handler // set once the MIB handler exists (it serves Dropped)
	view    *view.View
	reg     registry.Store
	targets func() int // configured notification targets
	log     *slog.Logger
	ch      chan note
	reps    chan mib.ReplicaRow              // replicaChange
	viewed  chan struct{}                    // a view change committed (vmIDWait)
	objects map[*mib.Notification][]snmp.OID // each notification's object columns
	dropped atomic.Uint64
	enables vmMIBEnables        // VM-MIB's two enables: defaultEnables until the VM-MIB module's are set here
	bulk    map[uint32][]uint32 // run's: VM-MIB bulk notification number -> vmIds pending
	metrics *metrics            // nil: not counted
}

// note is one queued notification: a VM's state (vm set) or a host's connection.
type note struct {
	vm   *vmNote
	host view.Change
}

// vmNote is a vmStateChange as the event or the resync told it, with VM-MIB's view of
// the change: the operational state before and after; persistent, for a deleted VM,
// when known.
type vmNote struct {
	host           string
	uuid           hosts.UUID
	name           string
	state          mib.VMState
	oper, prevOper operState
	persistent     *bool
}

func newNotifier(engine *snmp.Engine, v *view.View, reg registry.Store, queue int, targets func() int, log *slog.Logger) *notifier {
	if queue <= 0 {
		queue = snmp.DefaultNotifyQueue
	}
	n := &notifier{engine: engine, view: v, reg: reg, targets: targets, log: log, ch: make(chan note, queue),
		reps: make(chan mib.ReplicaRow, queue), viewed: make(chan struct{}, 1), objects: map[*mib.Notification][]snmp.OID{},
		enables: defaultEnables{}}
	for _, note := range []*mib.Notification{mib.VmStateChange, mib.HostConnectionChange} {
		for _, name := range note.Objects {
			oid, ok := mib.Lookup(name)
			if !ok {
				panic("notification " + note.Name + ": object " + name + " not in the module") // caught by TestNotifierObjects
			}
			n.objects[note] = append(n.objects[note], oid)
		}
	}
	v.OnChange(n.queue)
	return n
}

// Dropped is vmNotificationsDropped: the notifications a full queue refused.
func (n *notifier) Dropped() uint64 { return n.dropped.Load() }

// queue is the view's OnChange function: it never blocks. A VM's change only wakes a
// notification waiting for its vmId: vmStateChange follows the events, not the view.
func (n *notifier) queue(c view.Change) {
	select {
	case n.viewed <- struct{}{}:
	default:
	}
	if c.VMID != 0 || n.targets() == 0 {
		return
	}
	n.put(note{host: c}, "host", c.Host)
}

// queueVM queues a vmStateChange: it never blocks.
func (n *notifier) queueVM(v vmNote) {
	if n.targets() == 0 {
		return
	}
	n.put(note{vm: &v}, "host", v.host, "vm", v.name, "uuid", v.uuid.String(), "vmState", v.state.String())
}

func (n *notifier) put(x note, attrs ...any) {
	select {
	case n.ch <- x:
	default:
		n.overflow(attrs...)
	}
}

// overflow counts and logs a notification the queue could not take.
func (n *notifier) overflow(attrs ...any) {
	total := n.dropped.Add(1)
	n.metrics.dropped()
	n.log.Warn("notification dropped: queue full (snmp.notify_queue)",
		append(attrs, "queue", cap(n.ch), "dropped_total", total)...)
}

// queueReplica is the cluster's OnChange function: it never blocks.
func (n *notifier) queueReplica(r mib.ReplicaRow) {
	if n.targets() == 0 {
		return
	}
	select {
	case n.reps <- r:
	default:
		n.overflow("replica", r.Name)
	}
}

// run sends queued notifications, in order, until ctx is done; VM-MIB's bulk
// notifications bulkWindow after the first change they list.
func (n *notifier) run(ctx context.Context) {
	var bulkDue <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case x := <-n.ch:
			if x.vm != nil {
				n.sendVM(ctx, x.vm)
			} else {
				n.sendHost(ctx, x.host)
			}
		case r := <-n.reps:
			n.notify(ctx, mib.ReplicaChange, mib.ReplicaChangeVarBinds(r))
		case <-bulkDue:
			n.flushBulk(ctx)
			bulkDue = nil
		}
		if bulkDue == nil && len(n.bulk) > 0 {
			bulkDue = time.After(bulkWindow)
		}
	}
}

// sendHost sends hostConnectionChange with the objects a GET reads now.
func (n *notifier) sendHost(ctx context.Context, c view.Change) {
	h, ok := n.view.Read().Host(c.Host)
	if !ok {
		return // removed by a reload meanwhile
	}
	note := mib.HostConnectionChange
	vbs := make([]snmp.VarBind, 0, len(note.Objects))
	req := &snmp.Request{}
	for _, oid := range n.objects[note] {
		vb := n.h.Get(ctx, req, oid.Append(h.Index))
		if vb.Type == gosnmp.NoSuchObject || vb.Type == gosnmp.NoSuchInstance {
			return // the row went away before its notification was sent
		}
		vbs = append(vbs, vb)
	}
	n.notify(ctx, note, vbs)
}

// sendVM sends vmStateChange with what the event (or the resync) told, not what the
// view holds now: the view may have moved on, or dropped the row.
func (n *notifier) sendVM(ctx context.Context, v *vmNote) {
	id := n.vmID(ctx, v.uuid)
	if id == 0 {
		if ctx.Err() == nil {
			total := n.dropped.Add(1)
			n.log.Warn("vmStateChange not sent: the VM has no vmId", "host", v.host, "vm", v.name,
				"uuid", v.uuid.String(), "vmState", v.state.String(), "dropped_total", total)
		}
		return
	}
	note := mib.VmStateChange
	vbs := make([]snmp.VarBind, 0, len(note.Objects))
	for i, oid := range n.objects[note] {
		vb := snmp.VarBind{OID: oid.Append(id)}
		switch note.Objects[i] {
		case "vmName":
			vb.Type, vb.Value = gosnmp.OctetString, v.name
		case "vmUUID":
			vb.Type, vb.Value = gosnmp.OctetString, v.uuid[:]
		case "vmState":
			vb.Type, vb.Value = gosnmp.Integer, int(v.state)
		case "vmHost":
			vb.Type, vb.Value = gosnmp.OctetString, v.host
		}
		vbs = append(vbs, vb)
	}
	n.notify(ctx, note, vbs)
	n.sendVMMIB(ctx, id, v)
}

// vmID is the VM's vmId, waiting up to vmIDWait for the view to allocate it; 0 if it
// has none (the domain vanished before the view read it, or the registry cannot
// allocate now).
func (n *notifier) vmID(ctx context.Context, u hosts.UUID) uint32 {
	t := time.NewTimer(vmIDWait)
	defer t.Stop()
	for {
		if id, ok := n.reg.Lookup(registry.NSVM, u.String()); ok {
			return id
		}
		select {
		case <-n.viewed:
		case <-t.C:
			return 0
		case <-ctx.Done():
			return 0
		}
	}
}

func (n *notifier) notify(ctx context.Context, note *mib.Notification, vbs []snmp.VarBind) {
	n.send(ctx, note.OID, vbs)
}

// send sends the notification trapOID to every target.
func (n *notifier) send(ctx context.Context, trapOID snmp.OID, vbs []snmp.VarBind) {
	ctx, cancel := context.WithTimeout(ctx, notifyTimeout)
	defer cancel()
	err := n.engine.Notify(ctx, trapOID, vbs) // failures are logged per target by the engine
	n.metrics.notified(n.targets(), err)
}
