package hosts

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/vmgate/vmgate/e2e/testkit"
)

// pauseGate holds the lifecycle reader on a suspended event, before fire sees it,
// once hold is set.
type pauseGate struct {
	*fakeSink
	hold    atomic.Bool
	release chan struct{}
}

func (g *pauseGate) DomainEvent(_ string, e Event) {
	if g.hold.Load() && libvirt.DomainEventType(e.Type) == libvirt.DomainEventSuspended {
		<-g.release
	}
}

// A resume whose report comes late writes the state its event gave (running) over a
// pause reported early after it. The pause's own event, the next one of the domain,
// must not then be taken as confirming the view: libvirt says paused.
func TestLateReportOverEarlyReport(t *testing.T) {
	requireLibvirtd(t)
	sink := &pauseGate{fakeSink: newFakeSink(), release: make(chan struct{})}
	t.Cleanup(func() {
		select {
		case <-sink.release:
		default:
			close(sink.release)
		}
	})
	qHeld, qHold := make(chan struct{}), make(chan struct{})
	var holdResume atomic.Bool
	obs := func(proc string, _ time.Duration, _ error) {
		if proc == "resume" && holdResume.Load() {
			close(qHeld)
			<-qHold
		}
	}
	cfg := privateTestHost(t, "opwait-late-over-early")
	cfg.KeepaliveInterval, cfg.StatsInterval = time.Hour, time.Hour
	s := startSupervisor(t, cfg, sink, WithCallObserver(obs), WithOpEventWait(100*time.Millisecond))
	waitUp(t, sink.fakeSink)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shows := func(st DomainState) func() bool {
		return func() bool { d, _ := sink.domain(fixRunning); return d.State == st }
	}

	// The domain starts paused, its pause's wait gone.
	if err := s.Suspend(ctx, fixRunning); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the pause's wait removed", func() bool {
		s.waits.mu.Lock()
		defer s.waits.mu.Unlock()
		return len(s.waits.m[fixRunning]) == 0
	})

	// Manager A resumes; its report is held after libvirt's reply.
	holdResume.Store(true)
	done := make(chan error, 1)
	go func() { done <- s.Resume(ctx, fixRunning) }()
	<-qHeld
	// Its event comes: A's wait holds the answer, left to A's report.
	testkit.WaitFor(t, 10*time.Second, "the resume's event", func() bool {
		s.waits.mu.Lock()
		defer s.waits.mu.Unlock()
		for _, o := range s.waits.m[fixRunning] {
			if o.gotSeq != 0 {
				return true
			}
		}
		return false
	})

	// Manager B pauses; its event is held back, so it reports early.
	sink.hold.Store(true)
	if err := s.Suspend(ctx, fixRunning); err != nil {
		t.Fatal(err)
	}
	if d, _ := sink.domain(fixRunning); d.State != StatePaused {
		t.Fatalf("after B's pause the sink shows %v, want paused", d.State)
	}

	// A's report now writes what its event said.
	close(qHold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// B's event comes: the next event of the domain after B's report.
	close(sink.release)

	if st, _ := libvirtState(t, ctx, s, fixRunning); st != StatePaused {
		t.Fatalf("libvirt says %v, want paused", st)
	}
	testkit.WaitFor(t, 30*time.Second, "the view to show libvirt's paused", shows(StatePaused))
}

// A report written after an early one (an answer's, or another early report) takes it
// back: its event is then marked as any other's. So does a resync.
func TestOpWaitsLaterReportWithdrawsEarly(t *testing.T) {
	id := UUID{3}
	ev := func(e stateEvent) libvirt.DomainEventLifecycleMsg { return lifecycleMsg(id, e.typ, e.detail) }
	var w opWaits
	a := w.add(id, eventResumed)
	w.fire(ev(eventResumed)) // a's answer
	b := w.add(id, eventPaused)
	if !w.reportEarly(b) {
		t.Fatal("b not reported early")
	}
	if !w.stale(id, a) {
		t.Error("a's answer trusted over b's later early report")
	}

	w = opWaits{}
	r := w.add(id, eventResumed)
	p := w.add(id, eventPaused)
	w.reportEarly(r)
	w.reportEarly(p) // p's write lands after r's
	if w.fire(ev(eventResumed)) {
		t.Error("r's event taken as reported after p's later write")
	}

	w = opWaits{}
	o := w.add(id, eventPaused)
	w.reportEarly(o)
	w.forgetEarly()
	if w.fire(ev(eventPaused)) {
		t.Error("an early report taken as standing after a resync")
	}
	o = w.add(id, eventPaused)
	w.reportEarly(o)
	w.withdraw(o)
	if w.fire(ev(eventPaused)) {
		t.Error("a withdrawn early report taken as standing")
	}
}

// The event that confirms an early report is no news to an operation sent after that
// report (a resume right after a pause): the resume may report early too. To one sent
// before it, it is: that operation may have run before the report's in libvirt.
func TestOpWaitsConfirmationIsOldNews(t *testing.T) {
	id := UUID{4}
	ev := func(e stateEvent) libvirt.DomainEventLifecycleMsg { return lifecycleMsg(id, e.typ, e.detail) }
	var w opWaits
	p := w.add(id, eventPaused)
	w.reportEarly(p)
	r := w.add(id, eventResumed) // sent after the pause's report
	if !w.fire(ev(eventPaused)) {
		t.Fatal("the pause's event did not confirm its early report")
	}
	if !w.reportEarly(r) {
		t.Error("the resume sent after the pause's report could not report early")
	}
	if !w.fire(ev(eventResumed)) {
		t.Error("the resume's event did not confirm its early report")
	}

	w = opWaits{}
	before := w.add(id, eventResumed) // sent before the pause's report
	p = w.add(id, eventPaused)
	w.reportEarly(p)
	w.fire(ev(eventPaused))
	if w.reportEarly(before) {
		t.Error("an operation sent before the confirmed report reported early after its event")
	}
}

// An event that answers an operation whose report is still to come is left to that
// report, unless another event of the domain came first; a report that then fails
// has the domain read.
func TestOpWaitsClaimedEvent(t *testing.T) {
	id := UUID{5}
	ev := func(e stateEvent) libvirt.DomainEventLifecycleMsg { return lifecycleMsg(id, e.typ, e.detail) }
	var w opWaits
	o := w.add(id, eventPaused)
	if !w.fire(ev(eventPaused)) {
		t.Fatal("the pending operation's event was marked")
	}
	if !w.finish(o, false) {
		t.Error("a failed report of a claimed event did not ask for a read")
	}

	w = opWaits{}
	o = w.add(id, eventPaused)
	w.fire(ev(eventResumed))
	if w.fire(ev(eventPaused)) {
		t.Error("an event after another one was left to the pending operation")
	}
	if w.finish(o, false) {
		t.Error("an unclaimed event asked for a read at the report")
	}

	w = opWaits{}
	o = w.add(id, eventPaused)
	w.fire(ev(eventPaused))
	if w.finish(o, true) {
		t.Error("a reported claimed event asked for a read")
	}
	if w.fire(ev(eventPaused)) {
		t.Error("an event after the report was left to it")
	}
}

// lifecycleMsg is a lifecycle event of domain id (ID 7).
func lifecycleMsg(id UUID, typ libvirt.DomainEventType, detail int32) libvirt.DomainEventLifecycleMsg {
	return libvirt.DomainEventLifecycleMsg{Dom: libvirt.Domain{UUID: libvirt.UUID(id), ID: 7}, Event: int32(typ), Detail: detail}
}
