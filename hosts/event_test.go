package hosts

import (
	"testing"

	"github.com/digitalocean/go-libvirt"
)

// TestEventState: each lifecycle event type announces the state libvirt's
// documentation gives it, and the stop and suspend details the matching state reasons.
func TestEventState(t *testing.T) {
	tests := []struct {
		typ    libvirt.DomainEventType
		detail int32
		want   DomainState
		reason int32
		known  bool
	}{
		{libvirt.DomainEventDefined, 0, StateNoState, 0, false},
		{libvirt.DomainEventUndefined, 0, StateNoState, 0, false},
		{libvirt.DomainEventStarted, int32(libvirt.DomainEventStartedBooted), StateRunning, 0, true},
		{libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedPaused), StatePaused, 0, true},
		{libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedIoerror), StatePaused, 0, true},
		{libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedMigrated), StatePaused, ReasonPausedMigration, true},
		{libvirt.DomainEventResumed, int32(libvirt.DomainEventResumedUnpaused), StateRunning, 0, true},
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedShutdown), StateShutoff, int32(libvirt.DomainShutoffShutdown), true},
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedDestroyed), StateShutoff, int32(libvirt.DomainShutoffDestroyed), true},
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedFailed), StateShutoff, ReasonShutoffFailed, true},
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedCrashed), StateShutoff, ReasonShutoffCrashed, true},
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedSaved), StateShutoff, ReasonShutoffSaved, true},
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedRecreated), StateShutoff, 0, true},
		{libvirt.DomainEventShutdown, 0, StateShutdown, 0, true},
		{libvirt.DomainEventPmsuspended, 0, StatePMSuspended, 0, true},
		{libvirt.DomainEventCrashed, 0, StateCrashed, 0, true},
		{99, 0, StateNoState, 0, false},
	}
	for _, tt := range tests {
		e := Event{Type: int32(tt.typ), Detail: tt.detail}
		if got, reason, known := e.State(); got != tt.want || reason != tt.reason || known != tt.known {
			t.Errorf("event %d detail %d: State() = %v, %d, %v; want %v, %d, %v", tt.typ, tt.detail, got, reason, known,
				tt.want, tt.reason, tt.known)
		}
	}
	for _, r := range []struct {
		name      string
		ours, lib int32
	}{{"paused migration", ReasonPausedMigration, int32(libvirt.DomainPausedMigration)},
		{"paused postcopy", ReasonPausedPostcopy, int32(libvirt.DomainPausedPostcopy)},
		{"shutoff crashed", ReasonShutoffCrashed, int32(libvirt.DomainShutoffCrashed)},
		{"shutoff saved", ReasonShutoffSaved, int32(libvirt.DomainShutoffSaved)},
		{"shutoff failed", ReasonShutoffFailed, int32(libvirt.DomainShutoffFailed)}} {
		if r.ours != r.lib {
			t.Errorf("%s: %d, libvirt's is %d", r.name, r.ours, r.lib)
		}
	}
	if !(Event{Type: int32(libvirt.DomainEventUndefined)}).Removed() || (Event{}).Removed() {
		t.Error("Removed: only undefined")
	}
}
