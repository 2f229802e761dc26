package hosts

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/vmgate/vmgate/e2e/testkit"
)

// A pause or a resume takes the state its lifecycle event announces, with the reason
// a read would give, and reads nothing back; an operation whose event never comes
// (TestOperationRPCs holds them) reads the state instead.
func TestPauseResumeTakeTheirEvent(t *testing.T) {
	requireLibvirtd(t)
	sink := newFakeSink()
	var mu sync.Mutex
	var calls []string
	obs := func(proc string, _ time.Duration, _ error) {
		mu.Lock()
		calls = append(calls, proc)
		mu.Unlock()
	}
	cfg := privateTestHost(t, "opwait")
	cfg.KeepaliveInterval, cfg.StatsInterval = time.Hour, time.Hour
	// A wait far beyond any event's delay: the test must not depend on timing.
	s := startSupervisor(t, cfg, sink, WithCallObserver(obs), WithOpEventWait(time.Minute))
	waitUp(t, sink)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before, _ := sink.domain(fixRunning)
	for _, op := range []struct {
		name   string
		fn     func() error
		state  DomainState
		reason int32
	}{
		{"suspend", func() error { return s.Suspend(ctx, fixRunning) }, StatePaused, int32(libvirt.DomainPausedUser)},
		{"resume", func() error { return s.Resume(ctx, fixRunning) }, StateRunning, int32(libvirt.DomainRunningUnpaused)},
	} {
		mu.Lock()
		calls = nil
		mu.Unlock()
		if err := op.fn(); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		d, _ := sink.domain(fixRunning)
		if d.State != op.state || d.Reason != op.reason || d.ID != before.ID || d.Name != before.Name {
			t.Errorf("after %s the sink shows state %v reason %d ID %d name %q, want %v %d %d %q",
				op.name, d.State, d.Reason, d.ID, d.Name, op.state, op.reason, before.ID, before.Name)
		}
		mu.Lock()
		got := strings.Join(calls, " ")
		mu.Unlock()
		if strings.Contains(got, "state_after") {
			t.Errorf("%s read the domain back (%s); its event should have answered", op.name, got)
		}
		// What the event said is what libvirt says.
		if st, r := libvirtState(t, ctx, s, fixRunning); st != op.state || r != op.reason {
			t.Errorf("after %s libvirt says state %v reason %d, the event gave %v %d", op.name, st, r, op.state, op.reason)
		}
	}
}

// libvirtState is DomainGetState of id, over s's connection.
func libvirtState(t *testing.T, ctx context.Context, s *Supervisor, id UUID) (DomainState, int32) {
	t.Helper()
	type state struct {
		s DomainState
		r int32
	}
	got, err := withConnT(ctx, s, "check state", func(l *lv) (state, error) {
		st, r, err := l.DomainGetState(id.handle(), 0)
		return state{DomainState(st), r}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got.s, got.r
}

// An event of the domain after the one that answered an operation makes the
// operation ask libvirt: the patch may have taken away that event's mark.
func TestOpWaitsNewer(t *testing.T) {
	var w opWaits
	id := UUID{1}
	ev := func(typ libvirt.DomainEventType, detail int32) libvirt.DomainEventLifecycleMsg {
		return libvirt.DomainEventLifecycleMsg{Dom: libvirt.Domain{UUID: libvirt.UUID(id), ID: 7}, Event: int32(typ), Detail: detail}
	}
	o := w.add(id, eventPaused)
	w.fire(ev(libvirt.DomainEventResumed, 0)) // an earlier operation's: not the answer
	w.fire(ev(eventPaused.typ, eventPaused.detail))
	if got := <-o.got; got != 7 || w.newer(o) {
		t.Fatalf("answered with ID %d, newer %v; want 7, false", got, w.newer(o))
	}
	w.fire(ev(eventPaused.typ, eventPaused.detail)) // a second answer is not sent
	if len(o.got) != 0 || !w.newer(o) {
		t.Errorf("after a later event: %d answers queued, newer %v; want 0, true", len(o.got), w.newer(o))
	}
	w.remove(id, o)
	if len(w.m) != 0 {
		t.Errorf("waits left after remove: %v", w.m)
	}
}

// A resume by someone else between a pause and the pause's report wins: the report
// asks libvirt instead of writing the state its event gave over the newer one.
func TestPauseReportAfterALaterEvent(t *testing.T) {
	requireLibvirtd(t)
	sink := newFakeSink()
	hold, held := make(chan struct{}), make(chan struct{})
	var s *Supervisor
	obs := func(proc string, _ time.Duration, _ error) {
		if proc == "suspend" {
			close(held)
			<-hold
		}
	}
	cfg := privateTestHost(t, "opwait-later")
	cfg.KeepaliveInterval, cfg.StatsInterval = time.Hour, time.Hour
	s = startSupervisor(t, cfg, sink, WithCallObserver(obs), WithOpEventWait(time.Minute))
	waitUp(t, sink)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Suspend(ctx, fixRunning) }()
	<-held // libvirt paused the domain; its report waits
	if _, err := withConnT(ctx, s, "resume by another client", func(l *lv) (struct{}, error) {
		return struct{}{}, l.DomainResume(fixRunning.handle())
	}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "the resume's event read", func() bool {
		d, _ := sink.domain(fixRunning)
		return d.State == StateRunning && d.Reason == int32(libvirt.DomainRunningUnpaused)
	})
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	d, _ := sink.domain(fixRunning)
	if st, r := libvirtState(t, ctx, s, fixRunning); d.State != st || d.Reason != r || st != StateRunning {
		t.Errorf("the sink shows state %v reason %d, libvirt %v %d; want running", d.State, d.Reason, st, r)
	}
}
