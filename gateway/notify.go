package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/snmp"
)

// notifyQueue bounds the changes waiting for their notification; beyond it a change
// is dropped with a warning (a burst of events must not hold up the view's writer).
const notifyQueue = 1024

// notifyTimeout bounds one notification to all targets (an inform receiver that does
// not answer is retried by the engine meanwhile).
const notifyTimeout = 30 * time.Second

// notifier sends the module's notifications for the view's changes: vmStateChange
// after a libvirt lifecycle event, hostConnectionChange when a hypervisor connection
// goes up or down. Their objects are read through the MIB handler in the merged
// context, so a notification carries what a GET would return just after the change.
// It also sends replicaChange when another replica joins or leaves; that one carries
// the replica's record (a replica that left has no row to read).
type notifier struct {
	engine  *snmp.Engine
	h       snmp.Handler
	view    *view.View
	targets func() int // configured notification targets
	log     *slog.Logger
	ch      chan view.Change
	reps    chan mib.ReplicaRow              // replicaChange
	objects map[*mib.Notification][]snmp.OID // each notification's object columns
}

func newNotifier(engine *snmp.Engine, h snmp.Handler, v *view.View, targets func() int, log *slog.Logger) *notifier {
	n := &notifier{engine: engine, h: h, view: v, targets: targets, log: log, ch: make(chan view.Change, notifyQueue),
		reps: make(chan mib.ReplicaRow, notifyQueue), objects: map[*mib.Notification][]snmp.OID{}}
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

// queue is the view's OnChange function: it never blocks.
func (n *notifier) queue(c view.Change) {
	if n.targets() == 0 {
		return
	}
	select {
	case n.ch <- c:
	default:
		n.log.Warn("notification dropped: queue full", "host", c.Host, "vmId", c.VMID)
	}
}

// queueReplica is the cluster's OnChange function: it never blocks.
func (n *notifier) queueReplica(r mib.ReplicaRow) {
	if n.targets() == 0 {
		return
	}
	select {
	case n.reps <- r:
	default:
		n.log.Warn("notification dropped: queue full", "replica", r.Name)
	}
}

// run sends queued notifications, in order, until ctx is done.
func (n *notifier) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-n.ch:
			n.send(ctx, c)
		case r := <-n.reps:
			n.notify(ctx, mib.ReplicaChange, mib.ReplicaChangeVarBinds(r))
		}
	}
}

func (n *notifier) send(ctx context.Context, c view.Change) {
	note, idx := mib.VmStateChange, c.VMID
	if c.VMID == 0 {
		h, ok := n.view.Read().Host(c.Host)
		if !ok {
			return // removed by a reload meanwhile
		}
		note, idx = mib.HostConnectionChange, h.Index
	}
	vbs := make([]snmp.VarBind, 0, len(note.Objects))
	req := &snmp.Request{}
	for _, oid := range n.objects[note] {
		vb := n.h.Get(ctx, req, oid.Append(idx))
		if vb.Type == gosnmp.NoSuchObject || vb.Type == gosnmp.NoSuchInstance {
			return // the row went away before its notification was sent
		}
		vbs = append(vbs, vb)
	}
	n.notify(ctx, note, vbs)
}

func (n *notifier) notify(ctx context.Context, note *mib.Notification, vbs []snmp.VarBind) {
	ctx, cancel := context.WithTimeout(ctx, notifyTimeout)
	defer cancel()
	_ = n.engine.Notify(ctx, note.OID, vbs) // failures are logged per target by the engine
}
