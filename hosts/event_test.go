package hosts

import (
	"testing"

	"github.com/digitalocean/go-libvirt"
)

// TestEventState: each lifecycle event type (and the stop details that mean a crash)
// announces the state libvirt's documentation gives it.
func TestEventState(t *testing.T) {
	tests := []struct {
		typ    libvirt.DomainEventType
		detail int32
		want   DomainState
		known  bool
	}{
		{libvirt.DomainEventDefined, 0, StateNoState, false},
		{libvirt.DomainEventUndefined, 0, StateNoState, false},
		{libvirt.DomainEventStarted, int32(libvirt.DomainEventStartedBooted), StateRunning, true},
		{libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedPaused), StatePaused, true},
		{libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedIoerror), StatePaused, true},
		{libvirt.DomainEventResumed, int32(libvirt.DomainEventResumedUnpaused), StateRunning, true},
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedShutdown), StateShutoff, true},
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedDestroyed), StateShutoff, true},
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedFailed), StateCrashed, true},
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedCrashed), StateCrashed, true},
		{libvirt.DomainEventShutdown, 0, StateShutdown, true},
		{libvirt.DomainEventPmsuspended, 0, StatePMSuspended, true},
		{libvirt.DomainEventCrashed, 0, StateCrashed, true},
		{99, 0, StateNoState, false},
	}
	for _, tt := range tests {
		e := Event{Type: int32(tt.typ), Detail: tt.detail}
		if got, known := e.State(); got != tt.want || known != tt.known {
			t.Errorf("event %d detail %d: State() = %v, %v; want %v, %v", tt.typ, tt.detail, got, known, tt.want, tt.known)
		}
	}
	if !(Event{Type: int32(libvirt.DomainEventUndefined)}).Removed() || (Event{}).Removed() {
		t.Error("Removed: only undefined")
	}
}
