package gateway

import (
	"sync"

	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
)

// eventSink is the hosts' Sink: the view, plus the lifecycle events and the resyncs'
// differences that become vmStateChange notifications. The view coalesces a storm of
// events into one re-read, which is right for the view but would lose short-lived
// states; so the notifications come from the events themselves.
type eventSink struct {
	*view.View
	n *notifier
	m *metrics // health changes counted; nil: not counted

	mu    sync.Mutex
	hosts map[string]*hostStates
}

// hostStates is what eventSink knows of one host's VMs.
type hostStates struct {
	synced bool                   // a resync was reported since the gateway started
	known  map[hosts.UUID]knownVM // last state notified or resynced
	// evented holds the VMs that had an event since the connection (re)opened: their
	// events told their changes, a resync's (possibly older) read does not.
	evented map[hosts.UUID]bool
}

// knownVM is a VM's name and state as last notified or resynced.
type knownVM struct {
	name  string
	state mib.VMState
	oper  operState // VM-MIB's vmOperState
}

var _ hosts.EventSink = (*eventSink)(nil)

func newEventSink(v *view.View, n *notifier, m *metrics) *eventSink {
	return &eventSink{View: v, n: n, m: m, hosts: map[string]*hostStates{}}
}

func (s *eventSink) host(name string) *hostStates {
	h := s.hosts[name]
	if h == nil {
		h = &hostStates{known: map[hosts.UUID]knownVM{}, evented: map[hosts.UUID]bool{}}
		s.hosts[name] = h
	}
	return h
}

// DomainEvent queues one vmStateChange with the state the event announced; an event
// that announces none (a definition) repeats the last known state, shutoff for a new
// VM; an undefinition is undefined(10).
func (s *eventSink) DomainEvent(host string, ev hosts.Event) {
	s.mu.Lock()
	defer s.mu.Unlock() // queued under the lock: in order with the resyncs' notes
	h := s.host(host)
	k, known := h.known[ev.UUID]
	v := vmNote{host: host, uuid: ev.UUID, name: ev.Name, state: k.state, oper: k.oper, prevOper: k.oper}
	if !known {
		v.prevOper = operUnknown
	}
	switch ds, reason, ok := ev.State(); {
	case ev.Removed():
		persistent := true // only a persistent domain is undefined
		v.state, v.oper, v.persistent = mib.StateUndefined, operDeleted, &persistent
		delete(h.known, ev.UUID)
	case ok:
		v.state, v.oper = vmState(ds, reason), operOf(ds, reason)
	case !known:
		v.state, v.oper = mib.StateShutoff, operShutdown
	}
	if v.oper != operDeleted {
		h.known[ev.UUID] = knownVM{ev.Name, v.state, v.oper}
	}
	h.evented[ev.UUID] = true
	s.n.queueVM(v)
}

// DomainRemoved forgets a domain libvirt no longer has (undefined, or transient and
// stopped): its events told its end, a later resync must not report it gone again.
func (s *eventSink) DomainRemoved(host string, id hosts.UUID) {
	s.View.DomainRemoved(host, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.host(host).known, id)
}

// Health counts the change in the metrics and forgets which VMs had events when the
// connection ends: the next resync reports what changed meanwhile.
func (s *eventSink) Health(host string, hl hosts.Health) {
	s.m.health(host, hl)
	s.View.Health(host, hl)
	if hl.Status == hosts.Up {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.host(host).evented)
}

// Synced stores the resync, then queues one vmStateChange per difference from the
// states known before: a VM that appeared, changed state or disappeared (undefined)
// while the host was not connected. The first resync of a host after the gateway
// starts has nothing to compare with and sends none.
func (s *eventSink) Synced(host string, inv hosts.Inventory) {
	s.View.Synced(host, inv)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host(host)
	seen := make(map[hosts.UUID]bool, len(inv.Domains))
	for _, d := range inv.Domains {
		seen[d.UUID] = true
		if h.evented[d.UUID] {
			continue
		}
		now := knownVM{d.Name, vmState(d.State, d.Reason), operOf(d.State, d.Reason)}
		old, ok := h.known[d.UUID]
		if !ok {
			old.oper = operUnknown
		}
		if h.synced && (!ok || old.state != now.state || old.oper != now.oper) {
			s.n.queueVM(vmNote{host: host, uuid: d.UUID, name: d.Name, state: now.state, oper: now.oper, prevOper: old.oper})
		}
		h.known[d.UUID] = now
	}
	for u, k := range h.known {
		if seen[u] || h.evented[u] {
			continue
		}
		delete(h.known, u)
		if h.synced {
			s.n.queueVM(vmNote{host: host, uuid: u, name: k.name, state: mib.StateUndefined, oper: operDeleted, prevOper: k.oper})
		}
	}
	h.synced = true
}

// vmState maps libvirt's state and reason to vmState for the notifications: a domain
// shut off because it crashed, or because its emulator failed (a killed QEMU), is
// crashed(7).
func vmState(ds hosts.DomainState, reason int32) mib.VMState {
	if ds == hosts.StateShutoff && (reason == hosts.ReasonShutoffCrashed || reason == hosts.ReasonShutoffFailed) {
		return mib.StateCrashed
	}
	if st := mib.VMState(int(ds) + 1); st.Valid() && st < mib.StateUnknown {
		return st
	}
	return mib.StateDefined
}
