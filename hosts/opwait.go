package hosts

import (
	"context"
	"sync"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// opEventWait bounds how long a pause or a resume waits for its lifecycle event
// before it reads the state back instead; libvirt sends the event with the reply.
const opEventWait = 25 * time.Millisecond

// WithOpEventWait sets how long a pause or a resume waits for its event (default
// 25ms) before reading the state back.
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
}

type opWait struct {
	want stateEvent
	got  chan int32 // the domain's ID in the event; buffered, written once
	// Under opWaits.mu: the seq of the event that answered, and of the domain's last.
	gotSeq, lastSeq uint64
}

// add registers a wait for want on id, before the operation is sent: its event may
// come before its reply.
func (w *opWaits) add(id UUID, want stateEvent) *opWait {
	ow := &opWait{want: want, got: make(chan int32, 1)}
	w.mu.Lock()
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
// takes away belongs to an event fire saw, so newer knows of it.
func (w *opWaits) fire(ev libvirt.DomainEventLifecycleMsg) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	for _, o := range w.m[UUID(ev.Dom.UUID)] {
		o.lastSeq = w.seq
		if o.gotSeq == 0 && ev.Event == int32(o.want.typ) && ev.Detail == o.want.detail {
			o.gotSeq = w.seq
			o.got <- ev.Dom.ID
		}
	}
}

// newer says whether an event of the domain came after the one that answered o.
func (w *opWaits) newer(o *opWait) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return o.lastSeq > o.gotSeq
}

// stateOp runs a pause or a resume and reports the state its event announces; when
// no event comes within the wait (opEventWait), it reads the state back as domainOp does.
func (s *Supervisor) stateOp(ctx context.Context, id Target, what string, want stateEvent, fn func(*lv, libvirt.Domain) error) error {
	uuid := UUID(id.handle().UUID)
	ow := s.waits.add(uuid, want)
	defer s.waits.remove(uuid, ow)
	op := func(l *lv, d libvirt.Domain) (libvirt.Domain, error) { return d, fn(l, d) }
	return s.opThenReport(ctx, id, what, op, func(c *conn, dom libvirt.Domain) error {
		read := func() (Domain, error) {
			return callT(ctx, c, "state after "+what+" "+uuid.String(), func(l *lv) (Domain, error) {
				return readFields(l, dom, FieldState, s.inPool)
			})
		}
		t := time.NewTimer(s.opWait)
		defer t.Stop()
		select {
		case domID := <-ow.got:
			return s.patchWith(ctx, c, uuid, FieldState, func() (Domain, error) {
				if s.waits.newer(ow) { // the state changed again since: ask libvirt
					return read()
				}
				return Domain{UUID: uuid, ID: domID, State: want.state, Reason: want.reason}, nil
			})
		case <-t.C:
			return s.patchWith(ctx, c, uuid, FieldState, read)
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}
