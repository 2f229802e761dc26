package hosts

import (
	"container/heap"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"
)

// scheduler runs the periodic work of every supervisor in the process (stats polls,
// keepalive probes) from one goroutine and one timer over a heap of due times, instead
// of a ticker and a watchdog goroutine per host. A job's function only signals or
// starts the work: it must not block the others.
type scheduler struct {
	once  sync.Once
	wake  chan struct{}
	mu    sync.Mutex
	jobs  jobHeap
	wakes atomic.Uint64 // rounds that ran jobs (tests)
}

// schedSlack: a round also runs the jobs due within this much after the first, early,
// so that many hosts' polls and probes share wake-ups instead of one each.
const schedSlack = 20 * time.Millisecond

// sched is the process's scheduler, started on first use; it runs for the process's life.
var sched scheduler

type job struct {
	at     time.Time
	period time.Duration
	phase  time.Duration // at falls on the Unix epoch + phase + k*period
	fn     func()
	index  int // in the heap; -1 once stopped
}

// every runs fn every period, at instants that fall phase after a multiple of period
// since the Unix epoch, so jobs with spread phases stay spread; the first run is at
// the next such instant, or up to schedSlack before it. A run that falls due while the
// scheduler is behind is run once, late. stop removes the job; fn may still be running when stop returns.
func (s *scheduler) every(period, phase time.Duration, fn func()) (stop func()) {
	s.once.Do(func() {
		s.wake = make(chan struct{}, 1)
		go s.run()
	})
	j := &job{period: period, phase: phase % period, fn: fn}
	j.at = j.next(time.Now())
	s.mu.Lock()
	heap.Push(&s.jobs, j)
	first := s.jobs[0] == j
	s.mu.Unlock()
	if first {
		s.poke()
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if j.index >= 0 {
			heap.Remove(&s.jobs, j.index)
		}
	}
}

// next is the first instant after now that falls on the job's phase. It is now plus a
// delay, so it keeps now's monotonic reading: a step of the wall clock moves no job.
func (j *job) next(now time.Time) time.Time {
	p := int64(j.period)
	n := now.UnixNano()
	base := n - (n-int64(j.phase))%p // the last instant on the phase, at or before now
	return now.Add(time.Duration(base + p - n))
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (s *scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *scheduler) run() {
	t := time.NewTimer(time.Hour)
	var due []func()
	for {
		now := time.Now()
		s.mu.Lock()
		for len(s.jobs) > 0 && !s.jobs[0].at.After(now.Add(schedSlack)) {
			j := s.jobs[0]
			due = append(due, j.fn)
			// The next instant after this round's reach: a job runs at most once a round,
			// even with a period shorter than schedSlack.
			j.at = j.next(later(now.Add(schedSlack), j.at))
			heap.Fix(&s.jobs, 0)
		}
		if len(due) > 0 {
			s.wakes.Add(1)
		}
		wait := time.Hour
		if len(s.jobs) > 0 {
			wait = s.jobs[0].at.Sub(now)
		}
		s.mu.Unlock()
		for i, fn := range due {
			fn()
			due[i] = nil
		}
		due = due[:0]
		t.Reset(wait)
		select {
		case <-t.C:
		case <-s.wake: // Reset drops a value the timer may have sent (Go >= 1.23)
		}
	}
}

// phaseSlots is how many phases of a period the hosts share.
const phaseSlots = 20

// phaseOf spreads hosts over a period: a stable offset from the host's name, one of
// phaseSlots evenly spaced, so the hosts' polls do not all fall due at once (nor all
// at their connection's start), and those of a slot run together: their calls' replies
// come in together, and the runtime serves them without going idle between each.
func phaseOf(name string, period time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(name))
	return time.Duration(h.Sum64()%phaseSlots) * (period / phaseSlots)
}

type jobHeap []*job

func (h jobHeap) Len() int           { return len(h) }
func (h jobHeap) Less(a, b int) bool { return h[a].at.Before(h[b].at) }
func (h jobHeap) Swap(a, b int) {
	h[a], h[b] = h[b], h[a]
	h[a].index, h[b].index = a, b
}
func (h *jobHeap) Push(x any) {
	j := x.(*job)
	j.index = len(*h)
	*h = append(*h, j)
}
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	j.index = -1
	*h = old[:len(old)-1]
	return j
}

// workers runs short jobs (keepalive probes) on goroutines it keeps for reuse: a job
// goes to an idle worker, or to a new one when none is idle (a probe of a hung host
// holds its worker until keepalive_timeout, and stops no other). A worker idle for
// workerIdle ends. A new goroutine per probe paid its creation, its exit and its
// stack's growth in go-libvirt's coding at every probe.
type workers struct {
	jobs    chan func()
	idle    time.Duration
	waiting atomic.Int32 // workers waiting for a job (tests)
	live    atomic.Int32 // workers (tests)
}

const workerIdle = 30 * time.Second

var probes = workers{jobs: make(chan func()), idle: workerIdle}

func (w *workers) run(fn func()) {
	select {
	case w.jobs <- fn:
	default:
		w.live.Add(1)
		go w.work(fn)
	}
}

func (w *workers) work(fn func()) {
	t := time.NewTimer(w.idle)
	defer t.Stop()
	defer w.live.Add(-1)
	for {
		fn()
		t.Reset(w.idle)
		w.waiting.Add(1)
		select {
		case fn = <-w.jobs:
			w.waiting.Add(-1)
		case <-t.C:
			w.waiting.Add(-1)
			return
		}
	}
}
