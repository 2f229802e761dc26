package hosts

import "github.com/digitalocean/go-libvirt"

// Reasons of libvirt's domain states (virDomainPausedReason, virDomainShutoffReason)
// that change what a state means to a manager: DomainGetState's and Event.State's.
const (
	ReasonPausedMigration int32 = 2  // paused for (the end of) a migration
	ReasonPausedPostcopy  int32 = 12 // paused during a post-copy migration
	ReasonShutoffCrashed  int32 = 3  // the guest crashed
	ReasonShutoffSaved    int32 = 5  // saved to a state file (managed save)
	ReasonShutoffFailed   int32 = 6  // the emulator failed or was killed
)

// State is the domain state, and its reason, that a lifecycle event announces: false
// for the events that change no run state (defined: a new or updated definition) and
// for undefined (the domain is gone: Removed). A stop's reason is its detail's: a QEMU
// process that ended without a shutdown (killed) is shut off with ReasonShutoffFailed.
func (e Event) State() (DomainState, int32, bool) {
	switch libvirt.DomainEventType(e.Type) {
	case libvirt.DomainEventStarted, libvirt.DomainEventResumed:
		return StateRunning, 0, true
	case libvirt.DomainEventSuspended:
		switch libvirt.DomainEventSuspendedDetailType(e.Detail) {
		case libvirt.DomainEventSuspendedMigrated:
			return StatePaused, ReasonPausedMigration, true
		case libvirt.DomainEventSuspendedPostcopy:
			return StatePaused, ReasonPausedPostcopy, true
		}
		return StatePaused, 0, true
	case libvirt.DomainEventShutdown:
		return StateShutdown, 0, true
	case libvirt.DomainEventPmsuspended:
		return StatePMSuspended, 0, true
	case libvirt.DomainEventCrashed:
		return StateCrashed, 0, true
	case libvirt.DomainEventStopped:
		// The stop details (shutdown..from-snapshot) are the shutoff reasons minus one.
		if d := libvirt.DomainEventStoppedDetailType(e.Detail); d >= libvirt.DomainEventStoppedShutdown &&
			d <= libvirt.DomainEventStoppedFromSnapshot {
			return StateShutoff, e.Detail + 1, true
		}
		return StateShutoff, 0, true
	}
	return StateNoState, 0, false
}

// Removed reports whether the event is the domain's undefinition.
func (e Event) Removed() bool { return libvirt.DomainEventType(e.Type) == libvirt.DomainEventUndefined }

// event hands a lifecycle event to the Sink when it wants events (EventSink).
func (s *Supervisor) event(ev libvirt.DomainEventLifecycleMsg) {
	es, ok := s.sink.(EventSink)
	if !ok {
		return
	}
	e := Event{UUID: UUID(ev.Dom.UUID), Name: ev.Dom.Name, Type: ev.Event, Detail: ev.Detail}
	es.DomainEvent(s.cfg.Name, e)
}
