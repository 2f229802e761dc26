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

// A pause or a resume reports the state its success stands for (or its event
// announces, when the event comes first), with the reason a read would give, and reads
// nothing back.
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
		return lifecycleMsg(id, typ, detail)
	}
	o := w.add(id, eventPaused)
	w.fire(ev(libvirt.DomainEventResumed, 0)) // an earlier operation's: not the answer
	w.fire(ev(eventPaused.typ, eventPaused.detail))
	if got := <-o.got; got != 7 || w.stale(id, o) {
		t.Fatalf("answered with ID %d, stale %v; want 7, false", got, w.stale(id, o))
	}
	w.fire(ev(eventPaused.typ, eventPaused.detail)) // a second answer is not sent
	if len(o.got) != 0 || !w.stale(id, o) {
		t.Errorf("after a later event: %d answers queued, stale %v; want 0, true", len(o.got), w.stale(id, o))
	}
	w.remove(id, o)
	if len(w.m) != 0 {
		t.Errorf("waits left after remove: %v", w.m)
	}
}

// An early report spares its domain a read only when its own event is the next one
// of the domain: any other event is marked as usual, and so is its own after it.
func TestOpWaitsEarlyReport(t *testing.T) {
	id := UUID{2}
	ev := func(typ libvirt.DomainEventType, detail int32) libvirt.DomainEventLifecycleMsg {
		return lifecycleMsg(id, typ, detail)
	}
	paused := ev(eventPaused.typ, eventPaused.detail)
	resumed := ev(eventResumed.typ, eventResumed.detail)

	var w opWaits
	o := w.add(id, eventPaused)
	if !w.fire(paused) {
		t.Error("an event before the report was not left to it")
	}
	if w.reportEarly(o) {
		t.Error("reported early although the event came first")
	}

	w = opWaits{}
	o = w.add(id, eventPaused)
	if !w.reportEarly(o) || w.heard(o) {
		t.Fatal("no early report with no event yet")
	}
	if !w.fire(paused) || !w.heard(o) {
		t.Error("the early report's own event was not taken as reported")
	}
	if w.fire(resumed) || w.fire(paused) {
		t.Error("a later event was taken as reported")
	}

	w = opWaits{}
	o = w.add(id, eventPaused)
	w.reportEarly(o)
	if w.fire(resumed) || w.fire(paused) {
		t.Error("the own event after another one was taken as reported")
	}
}

// A pause reported early whose event never comes (the events are held back) has its
// state read again once the wait ends.
func TestEarlyReportWithoutEventReads(t *testing.T) {
	requireLibvirtd(t)
	sink := &heldEvents{fakeSink: newFakeSink(), release: make(chan struct{})}
	t.Cleanup(func() { close(sink.release) })
	reads := make(chan string, 16)
	obs := func(proc string, _ time.Duration, _ error) {
		if proc == "re-read_domain" {
			select {
			case reads <- proc:
			default:
			}
		}
	}
	cfg := privateTestHost(t, "opwait-noevent")
	cfg.KeepaliveInterval, cfg.StatsInterval = time.Hour, time.Hour
	s := startSupervisor(t, cfg, sink, WithCallObserver(obs), WithOpEventWait(50*time.Millisecond))
	waitUp(t, sink.fakeSink)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(reads) > 0 {
		<-reads
	}
	if err := s.Suspend(ctx, fixRunning); err != nil {
		t.Fatal(err)
	}
	if d, _ := sink.domain(fixRunning); d.State != StatePaused {
		t.Fatalf("after suspend the sink shows %v, want paused", d.State)
	}
	select {
	case proc := <-reads:
		t.Logf("read after the wait: %s", proc)
	case <-ctx.Done():
		t.Fatal("no read of the domain after its event did not come")
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
