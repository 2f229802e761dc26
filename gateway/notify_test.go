package gateway

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/digitalocean/go-libvirt"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/gateway/view/viewtest"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
)

// TestNotifierObjects: every object of the notifications the gateway sends is a node of
// the module (newNotifier resolves them once, and would panic).
func TestNotifierObjects(t *testing.T) {
	tv := viewtest.New(t)
	n := newNotifier(nil, tv.View, tv.Reg, 0, func() int { return 0 }, slog.New(slog.DiscardHandler))
	for note, oids := range n.objects {
		if len(oids) != len(note.Objects) || len(oids) == 0 {
			t.Errorf("%s: %d objects resolved, want %d", note.Name, len(oids), len(note.Objects))
		}
	}
}

// testSink is an eventSink over a test view whose notifier has one target, a queue of
// size queue and a log the test reads; nothing sends the queued notes.
func testSink(t *testing.T, queue int) (*eventSink, *notifier, *testkit.Buffer) {
	t.Helper()
	tv := viewtest.New(t, "a")
	logs := &testkit.Buffer{}
	n := newNotifier(nil, tv.View, tv.Reg, queue, func() int { return 1 }, slog.New(slog.NewTextHandler(logs, nil)))
	return newEventSink(tv.View, n, nil), n, logs
}

// drain empties the notifier's queue and returns what f says of each VM note, in order.
func drain(n *notifier, f func(*vmNote) string) []string {
	var out []string
	for {
		select {
		case x := <-n.ch:
			if x.vm != nil {
				out = append(out, f(x.vm))
			}
		default:
			return out
		}
	}
}

// queued drains the notifier's queue: the VM notes as "name=state".
func queued(n *notifier) []string {
	return drain(n, func(v *vmNote) string { return v.name + "=" + v.state.String() })
}

func lifecycle(n byte, typ libvirt.DomainEventType, detail int32) hosts.Event {
	return hosts.Event{UUID: viewtest.UUID(n), Name: viewtest.Domain(n, 0).Name, Type: int32(typ), Detail: detail}
}

// TestEventNotes: each lifecycle event is one note, in order, with the state the event
// announced, even when the view's re-read would see only the last one; a definition
// repeats the known state (shutoff when new), an undefinition is undefined(10), a QEMU
// that failed is crashed.
func TestEventNotes(t *testing.T) {
	s, n, _ := testSink(t, 0)
	s.Synced("a", hosts.Inventory{Domains: []hosts.Domain{viewtest.Domain(1, hosts.StateRunning)}})
	name1, name2 := viewtest.Domain(1, 0).Name, viewtest.Domain(2, 0).Name
	for range 3 {
		s.DomainEvent("a", lifecycle(1, libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedPaused)))
		s.DomainEvent("a", lifecycle(1, libvirt.DomainEventResumed, int32(libvirt.DomainEventResumedUnpaused)))
	}
	s.DomainEvent("a", lifecycle(1, libvirt.DomainEventDefined, int32(libvirt.DomainEventDefinedUpdated)))
	s.DomainEvent("a", lifecycle(1, libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedFailed)))
	s.DomainEvent("a", lifecycle(2, libvirt.DomainEventDefined, int32(libvirt.DomainEventDefinedAdded)))
	s.DomainEvent("a", lifecycle(2, libvirt.DomainEventUndefined, int32(libvirt.DomainEventUndefinedRemoved)))
	want := []string{}
	for range 3 {
		want = append(want, name1+"=paused", name1+"=running")
	}
	want = append(want, name1+"=running", name1+"=crashed", name2+"=shutoff", name2+"=undefined")
	if got := queued(n); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("queued:\n got %v\nwant %v", got, want)
	}
}

// TestResyncNotes: the first resync sends nothing; after a disconnection the resync's
// differences are sent once each (changed, appeared, disappeared), except for VMs
// whose events since the reconnection already told, and a transient VM whose stop was
// notified and that libvirt then forgot; an unchanged resync sends none.
func TestResyncNotes(t *testing.T) {
	s, n, _ := testSink(t, 0)
	d := func(i byte, st hosts.DomainState) hosts.Domain { return viewtest.Domain(i, st) }
	name := func(i byte) string { return viewtest.Domain(i, 0).Name }
	s.Synced("a", hosts.Inventory{Domains: []hosts.Domain{d(1, hosts.StateRunning), d(2, hosts.StateRunning),
		d(3, hosts.StateShutoff), d(4, hosts.StateRunning)}})
	if got := queued(n); len(got) != 0 {
		t.Fatalf("first resync queued %v, want none", got)
	}
	// VM 6, transient, starts and stops: its events tell, and it is gone.
	s.DomainEvent("a", lifecycle(6, libvirt.DomainEventStarted, 0))
	s.DomainEvent("a", lifecycle(6, libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedDestroyed)))
	s.DomainRemoved("a", viewtest.UUID(6))
	if got := strings.Join(queued(n), " "); got != name(6)+"=running "+name(6)+"=shutoff" {
		t.Errorf("transient VM: queued %q", got)
	}
	s.Health("a", hosts.Health{Status: hosts.Down})
	// Reconnected: VM 4's event arrives before the resync, which read it earlier.
	s.DomainEvent("a", lifecycle(4, libvirt.DomainEventSuspended, 0))
	crashed := d(1, hosts.StateShutoff)
	crashed.Reason = hosts.ReasonShutoffCrashed
	s.Synced("a", hosts.Inventory{Domains: []hosts.Domain{crashed, d(2, hosts.StateRunning),
		d(4, hosts.StateRunning), d(5, hosts.StatePaused)}})
	s.Health("a", hosts.Health{Status: hosts.Up})
	want := []string{name(4) + "=paused", name(1) + "=crashed", name(5) + "=paused", name(3) + "=undefined"}
	if got := queued(n); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("after reconnection:\n got %v\nwant %v", got, want)
	}
	s.Synced("a", hosts.Inventory{Domains: []hosts.Domain{crashed, d(2, hosts.StateRunning),
		d(4, hosts.StatePaused), d(5, hosts.StatePaused)}})
	if got := queued(n); len(got) != 0 {
		t.Errorf("unchanged resync queued %v, want none", got)
	}
}

// TestQueueOverflow: a notification the full queue cannot take is counted
// (vmNotificationsDropped) and logged with the VM, never lost silently.
func TestQueueOverflow(t *testing.T) {
	s, n, logs := testSink(t, 2)
	for range 3 {
		s.DomainEvent("a", lifecycle(1, libvirt.DomainEventStarted, 0))
	}
	if got := n.Dropped(); got != 1 {
		t.Errorf("Dropped() = %d, want 1", got)
	}
	if !strings.Contains(logs.String(), "notification dropped: queue full") ||
		!strings.Contains(logs.String(), "uuid="+viewtest.UUID(1).String()) {
		t.Errorf("no log line naming the VM:\n%s", logs.String())
	}
	if got := queued(n); len(got) != 2 || got[0] != viewtest.Domain(1, 0).Name+"="+mib.StateRunning.String() {
		t.Errorf("queued %v, want the first two", got)
	}
}

// queuedOpers drains the notifier's queue: each VM note's VM-MIB change, as
// "prevOper>oper".
func queuedOpers(n *notifier) []string {
	return drain(n, func(v *vmNote) string { return fmt.Sprintf("%d>%d", v.prevOper, v.oper) })
}

// TestVMMIBNotes: the notes carry VM-MIB's operational states, before and after: a
// suspend is running(4)>paused(8), a killed QEMU crashed(12), an undefinition deleted
// with persistent(2), a new definition unknown(1)>shutdown(11), an update no change.
func TestVMMIBNotes(t *testing.T) {
	s, n, _ := testSink(t, 0)
	s.Synced("a", hosts.Inventory{Domains: []hosts.Domain{viewtest.Domain(1, hosts.StateRunning)}})
	s.DomainEvent("a", lifecycle(1, libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedPaused)))
	s.DomainEvent("a", lifecycle(1, libvirt.DomainEventResumed, int32(libvirt.DomainEventResumedUnpaused)))
	s.DomainEvent("a", lifecycle(1, libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedMigrated)))
	s.DomainEvent("a", lifecycle(1, libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedFailed)))
	s.DomainEvent("a", lifecycle(1, libvirt.DomainEventDefined, int32(libvirt.DomainEventDefinedUpdated)))
	s.DomainEvent("a", lifecycle(1, libvirt.DomainEventUndefined, 0))
	s.DomainEvent("a", lifecycle(2, libvirt.DomainEventDefined, int32(libvirt.DomainEventDefinedAdded)))
	want := "4>8 8>4 4>9 9>12 12>12 12>-1 1>11"
	if got := strings.Join(queuedOpers(n), " "); got != want {
		t.Errorf("VM-MIB changes %q, want %q", got, want)
	}
}

// TestOperOf: libvirt's states and reasons as VM-MIB's vmOperState.
func TestOperOf(t *testing.T) {
	tests := []struct {
		ds     hosts.DomainState
		reason int32
		want   operState
	}{
		{hosts.StateNoState, 0, operOther},
		{hosts.StateRunning, 0, operRunning},
		{hosts.StateBlocked, 0, operRunning},
		{hosts.StatePaused, 1, operPaused},
		{hosts.StatePaused, hosts.ReasonPausedMigration, operMigrating},
		{hosts.StatePaused, hosts.ReasonPausedPostcopy, operMigrating},
		{hosts.StateShutdown, 0, operShuttingdown},
		{hosts.StateShutoff, 1, operShutdown},
		{hosts.StateShutoff, hosts.ReasonShutoffCrashed, operCrashed},
		{hosts.StateShutoff, hosts.ReasonShutoffFailed, operCrashed},
		{hosts.StateShutoff, hosts.ReasonShutoffSaved, operSuspended},
		{hosts.StateCrashed, 0, operCrashed},
		{hosts.StatePMSuspended, 0, operSuspended},
		{42, 0, operUnknown},
	}
	for _, tt := range tests {
		if got := operOf(tt.ds, tt.reason); got != tt.want {
			t.Errorf("operOf(%d, %d) = %d, want %d", tt.ds, tt.reason, got, tt.want)
		}
	}
}

// TestAffectedVMs: VirtualMachineList puts vmIndex 1 in the first octet's most
// significant bit and 8 in its least, 9 in the second octet's most.
func TestAffectedVMs(t *testing.T) {
	if got := affectedVMs([]uint32{1, 8, 9, 20}); !bytes.Equal(got, []byte{0x81, 0x80, 0x10}) {
		t.Errorf("affectedVMs(1, 8, 9, 20) = %x, want 818010", got)
	}
	if got := affectedVMs([]uint32{16}); !bytes.Equal(got, []byte{0x00, 0x01}) {
		t.Errorf("affectedVMs(16) = %x, want 0001", got)
	}
}
