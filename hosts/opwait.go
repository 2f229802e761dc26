package hosts

import (
	"context"
	"sync"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// opEventWait bounds how long a pause or a resume reported before its lifecycle
// event waits for that event; without it by then, the state is read again.
const opEventWait = 2 * time.Second

// WithOpEventWait sets how long a pause or a resume reported before its event waits
// for it (default 2s) before the state is read again.
func WithOpEventWait(d time.Duration) Option { return func(s *Supervisor) { s.opWait = d } }

// stateEvent is the lifecycle event that announces an operation's result, and the
// state it stands for, with the reason DomainGetState gives after a pause or a resume
// by the API.
type stateEvent struct {
	typ    libvirt.DomainEventType
	detail int32
	state  DomainState
	reason int32
}

var (
	eventPaused = stateEvent{libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedPaused),
		StatePaused, int32(libvirt.DomainPausedUser)}
	eventResumed = stateEvent{libvirt.DomainEventResumed, int32(libvirt.DomainEventResumedUnpaused),
		StateRunning, int32(libvirt.DomainRunningUnpaused)}
)

// opWaits holds the operations waiting for a lifecycle event of their domain.
type opWaits struct {
	mu  sync.Mutex
	m   map[UUID][]*opWait
	seq uint64 // events fired so far
	ops uint64 // waits added and early reports made so far: their order
}

type opWait struct {
	id   UUID
	want stateEvent
	got  chan int32 // the domain's ID in the event; buffered, written once
	// Under opWaits.mu: the seq of the event that answered, and of the domain's last;
	// early: the state was reported before any event of the domain came.
	gotSeq, lastSeq uint64
	early           bool
	added, earlyAt  uint64 // opWaits.ops when added, and when reported early
	// claimed: fire left the domain unmarked, as the operation reports this event's
	// state (or reads it back); done: the operation's report is over.
	claimed, done bool
}

// add registers a wait for want on id, before the operation is sent: its event may
// come before its reply.
func (w *opWaits) add(id UUID, want stateEvent) *opWait {
	ow := &opWait{id: id, want: want, got: make(chan int32, 1)}
	w.mu.Lock()
	w.ops++
	ow.added = w.ops
	if w.m == nil {
		w.m = map[UUID][]*opWait{}
	}
	w.m[id] = append(w.m[id], ow)
	w.mu.Unlock()
	return ow
}

func (w *opWaits) remove(id UUID, ow *opWait) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.m[id]
	for i, o := range list {
		if o == ow {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(w.m, id)
	} else {
		w.m[id] = list
	}
}

// fire hands ev to the waits it answers and tells the others a later event came. The
// lifecycle reader calls it before it marks the domain: a mark an operation's patch
// takes away belongs to an event fire saw, so stale knows of it. It returns true when
// ev is the first event after an early report and says what the report wrote: the
// view has it already, so the domain needs no read. Such an event is no news to a
// wait added after that report either: its operation was sent after the report's.
// It also returns true when ev is the first event of the domain since a wait whose
// report is still to come was added, and answers it: that report writes its state.
func (w *opWaits) fire(ev libvirt.DomainEventLifecycleMsg) (reported bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	list := w.m[UUID(ev.Dom.UUID)]
	answers := func(o *opWait) bool {
		return o.gotSeq == 0 && ev.Event == int32(o.want.typ) && ev.Detail == o.want.detail
	}
	var confirms *opWait
	for _, o := range list {
		if o.early && o.lastSeq == 0 && answers(o) {
			confirms = o
			break
		}
	}
	handled := confirms != nil
	for _, o := range list {
		if confirms != nil && o != confirms && o.added > confirms.earlyAt {
			continue
		}
		if answers(o) {
			o.gotSeq = w.seq
			o.got <- ev.Dom.ID
			if !o.early && !o.done && o.lastSeq == 0 {
				o.claimed, handled = true, true
			}
		}
		o.lastSeq = w.seq
	}
	return handled
}

// finish records that o's report is over, and says whether o claimed an event it
// then did not report (reported false): the domain must be read.
func (w *opWaits) finish(o *opWait, reported bool) (unreported bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	o.done = true
	return o.claimed && !reported
}

// reportEarly says o's state may be reported before its event: no event of the
// domain came since the operation was sent. o then waits for its event until removed.
// Its report replaces the domain's earlier early reports: their events are then
// marked as any other's.
func (w *opWaits) reportEarly(o *opWait) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	o.early = o.lastSeq == 0
	if o.early {
		o.done = true // the report is this one
		w.ops++
		o.earlyAt = w.ops
		for _, other := range w.m[o.id] {
			if other != o {
				other.early = false
			}
		}
	}
	return o.early
}

// withdraw takes back o's early report, when it did not reach the view.
func (w *opWaits) withdraw(o *opWait) {
	w.mu.Lock()
	o.early = false
	w.mu.Unlock()
}

// forgetEarly withdraws every early report: a resync rewrote the view, and the events
// of the old connection may be lost.
func (w *opWaits) forgetEarly() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, list := range w.m {
		for _, o := range list {
			o.early = false
		}
	}
}

// heard says whether any event of o's domain came since o was added: the lifecycle
// reader has then marked the domain, unless fire found that event confirmed o's report.
func (w *opWaits) heard(o *opWait) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return o.lastSeq != 0
}

// stale says whether the event that answered o may be out of date: an event of the
// domain came after it, or another operation on the domain reported its state early
// after o's operation was sent (its own event may then be taken as confirming that
// report, over o's).
func (w *opWaits) stale(id UUID, o *opWait) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if o.lastSeq > o.gotSeq {
		return true
	}
	for _, other := range w.m[id] {
		if other != o && other.early && other.earlyAt > o.added {
			return true
		}
	}
	return false
}

// stateOp runs a pause or a resume and reports the state its success stands for at
// once, unless an event of the domain came first: its own (the state it announces) or
// another (the state is read back). An early report waits for its event for opWait;
// without it by then, the domain's state is marked to be read again.
func (s *Supervisor) stateOp(ctx context.Context, id Target, what string, want stateEvent, fn func(*lv, libvirt.Domain) error) error {
	uuid := UUID(id.handle().UUID)
	ow := s.waits.add(uuid, want)
	early, reported := false, false
	defer func() {
		if s.waits.finish(ow, reported) {
			s.markState(uuid) // its event was left to this report
		}
		if !early {
			s.waits.remove(uuid, ow)
			return
		}
		time.AfterFunc(s.opWait, func() {
			s.waits.remove(uuid, ow)
			if !s.waits.heard(ow) { // no event at all: let a read tell
				s.markState(uuid)
			}
		})
	}()
	op := func(l *lv, d libvirt.Domain) (libvirt.Domain, error) { return d, fn(l, d) }
	return s.opThenReport(ctx, id, what, op, func(c *conn, dom libvirt.Domain) error {
		err := s.patchWith(ctx, c, uuid, FieldState, func() (Domain, error) {
			if early = s.waits.reportEarly(ow); early {
				return Domain{UUID: uuid, ID: dom.ID, State: want.state, Reason: want.reason}, nil
			}
			select {
			case domID := <-ow.got:
				if !s.waits.stale(uuid, ow) {
					return Domain{UUID: uuid, ID: domID, State: want.state, Reason: want.reason}, nil
				}
			default:
			}
			// Another event of the domain came, or another report: ask libvirt.
			return callT(ctx, c, "state after "+what+" "+uuid.String(), func(l *lv) (Domain, error) {
				return readFields(l, dom, FieldState, s.inPool)
			})
		})
		if err != nil && early {
			s.waits.withdraw(ow) // its event must be read, not taken as written
		}
		reported = err == nil
		return err
	})
}
