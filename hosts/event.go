package hosts

import "github.com/digitalocean/go-libvirt"

// State is the domain state a lifecycle event announces: false for the events that
// change no run state (defined: a new or updated definition) and for undefined (the
// domain is gone: Removed). A QEMU process that ended without a shutdown (killed, or
// failed) is StateCrashed, as is a guest panic.
func (e Event) State() (DomainState, bool) {
	switch libvirt.DomainEventType(e.Type) {
	case libvirt.DomainEventStarted, libvirt.DomainEventResumed:
		return StateRunning, true
	case libvirt.DomainEventSuspended:
		return StatePaused, true
	case libvirt.DomainEventShutdown:
		return StateShutdown, true
	case libvirt.DomainEventPmsuspended:
		return StatePMSuspended, true
	case libvirt.DomainEventCrashed:
		return StateCrashed, true
	case libvirt.DomainEventStopped:
		switch libvirt.DomainEventStoppedDetailType(e.Detail) {
		case libvirt.DomainEventStoppedCrashed, libvirt.DomainEventStoppedFailed:
			return StateCrashed, true
		}
		return StateShutoff, true
	}
	return StateNoState, false
}

// Removed reports whether the event is the domain's undefinition.
func (e Event) Removed() bool { return libvirt.DomainEventType(e.Type) == libvirt.DomainEventUndefined }

// Defined reports whether the event is a new or changed definition.
func (e Event) Defined() bool { return libvirt.DomainEventType(e.Type) == libvirt.DomainEventDefined }

// event hands a lifecycle event to the Sink when it wants events (EventSink).
func (s *Supervisor) event(ev libvirt.DomainEventLifecycleMsg) {
	es, ok := s.sink.(EventSink)
	if !ok {
		return
	}
	e := Event{UUID: UUID(ev.Dom.UUID), Name: ev.Dom.Name, Type: ev.Event, Detail: ev.Detail}
	es.DomainEvent(s.cfg.Name, e)
}
