package hosts

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
)

// A job falls due on its phase of the period, the first time after now.
func TestJobNext(t *testing.T) {
	j := &job{period: 10 * time.Second, phase: 3 * time.Second}
	for _, tc := range []struct{ now, want int64 }{
		{100, 103}, {102, 103}, {103, 113}, {104, 113}, {112, 113},
	} {
		got := j.next(time.Unix(tc.now, 0))
		if got.Unix() != tc.want || got.Nanosecond() != 0 {
			t.Errorf("next after %d s = %v, want %d s", tc.now, got, tc.want)
		}
	}
}

// A due time keeps now's monotonic reading, so a step back of the wall clock (NTP at
// boot) does not hold every host's polls and keepalives until the clock catches up.
func TestJobNextMonotonic(t *testing.T) {
	j := &job{period: 10 * time.Second, phase: 3 * time.Second}
	now := time.Now()
	got := j.next(now)
	if !strings.Contains(got.String(), " m=") {
		t.Fatalf("next(%v) = %v: no monotonic reading", now, got)
	}
	if d := got.Sub(now); d <= 0 || d > j.period {
		t.Errorf("next is %v after now, want within (0, %v]", d, j.period)
	}
}

// Hosts' phases spread over the period, on phaseSlots slots.
func TestPhaseOfSpreads(t *testing.T) {
	const period, hosts, buckets = 10 * time.Second, 1000, 10
	var n [buckets]int
	slots := map[time.Duration]bool{}
	for h := range hosts {
		p := phaseOf(fmt.Sprintf("fleet%03d", h), period)
		if p < 0 || p >= period || p%(period/phaseSlots) != 0 {
			t.Fatalf("phase %v outside [0, %v) or off the slots of %v", p, period, period/phaseSlots)
		}
		n[p*buckets/period]++
		slots[p] = true
	}
	if len(slots) != phaseSlots {
		t.Errorf("%d phases used, want %d", len(slots), phaseSlots)
	}
	for i, c := range n {
		if c < hosts/buckets/2 || c > hosts/buckets*2 {
			t.Errorf("bucket %d of %d holds %d of %d hosts: %v", i, buckets, c, hosts, n)
		}
	}
}

// The scheduler runs each job every period, and no more once stopped.
func TestSchedulerEvery(t *testing.T) {
	ran := make(chan int, 100)
	stopA := sched.every(20*time.Millisecond, 0, func() { ran <- 1 })
	stopB := sched.every(30*time.Millisecond, 5*time.Millisecond, func() { ran <- 2 })
	seen := map[int]int{}
	for seen[1] < 3 || seen[2] < 3 {
		seen[<-ran]++
	}
	stopA()
	stopB()
	for len(ran) > 0 {
		<-ran
	}
	// A stopped job is out of the heap: nothing of A or B remains to fall due.
	sched.mu.Lock()
	defer sched.mu.Unlock()
	for _, j := range sched.jobs {
		if j.period == 20*time.Millisecond || j.period == 30*time.Millisecond {
			t.Errorf("stopped job still scheduled: %+v", j)
		}
	}
}

// TestWorkersReuse: jobs one after the other run on one goroutine; a job that blocks
// does not hold up the next (it gets a new worker); an idle worker ends.
func TestWorkersReuse(t *testing.T) {
	w := &workers{jobs: make(chan func()), idle: time.Hour}
	var mu sync.Mutex
	gids := map[uint64]bool{}
	for i := range 20 {
		done := make(chan struct{})
		job := func() {
			mu.Lock()
			gids[goid()] = true
			mu.Unlock()
			close(done)
		}
		if i == 0 {
			w.run(job)
		} else {
			// run's own first case, retried until the worker is back at its select (its
			// waiting count goes up just before it gets there): run would start another.
			for !offer(w, job) {
				runtime.Gosched()
			}
		}
		<-done
	}
	if len(gids) != 1 {
		t.Errorf("20 jobs in turn ran on %d goroutines, want 1", len(gids))
	}
	block, ran := make(chan struct{}), make(chan struct{})
	w.run(func() { <-block })
	w.run(func() { close(ran) })
	select {
	case <-ran:
	case <-time.After(time.Minute):
		t.Fatal("a job waited for a blocked one")
	}
	close(block)

	short := &workers{jobs: make(chan func()), idle: time.Millisecond}
	ran2 := make(chan struct{})
	short.run(func() { close(ran2) })
	<-ran2
	testkit.WaitFor(t, time.Minute, "the idle worker ended", func() bool { return short.live.Load() == 0 })
	if !noWorkerWaits(short) {
		t.Error("a worker still took a job")
	}
}

// offer hands fn to a worker of w waiting for a job, as run does first.
func offer(w *workers, fn func()) bool {
	select {
	case w.jobs <- fn:
		return true
	default:
		return false
	}
}

// noWorkerWaits says whether no worker of w takes a job now.
func noWorkerWaits(w *workers) bool { return !offer(w, func() {}) }

// goid is the calling goroutine's ID, from its stack header.
func goid() uint64 {
	var buf [64]byte
	s := strings.TrimPrefix(string(buf[:runtime.Stack(buf[:], false)]), "goroutine ")
	id, _ := strconv.ParseUint(s[:strings.IndexByte(s, ' ')], 10, 64)
	return id
}

// TestSchedulerBatches: jobs due within schedSlack of each other run in one round,
// each once per period.
func TestSchedulerBatches(t *testing.T) {
	var s scheduler
	const jobs, period = 10, 300 * time.Millisecond
	var mu sync.Mutex
	runs := make([]int, jobs)
	for i := range jobs {
		defer s.every(period, time.Duration(i)*time.Millisecond, func() {
			mu.Lock()
			runs[i]++
			mu.Unlock()
		})()
	}
	testkit.WaitFor(t, time.Minute, "five runs of the last job", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return runs[jobs-1] >= 5
	})
	mu.Lock()
	defer mu.Unlock()
	rounds := s.wakes.Load()
	for i, n := range runs {
		if n < 3 || n > 7 {
			t.Errorf("job %d ran %d times in %d rounds, want 5 or so", i, n, rounds)
		}
	}
	// One wake-up per job and run would be 50; a loaded machine may split a few.
	if rounds > 15 {
		t.Errorf("%d rounds for %d jobs due within %s of each other, 5 periods", rounds, jobs, time.Duration(jobs)*time.Millisecond)
	}
}

// A job whose period is shorter than the batching window runs once a round, not
// again and again within one.
func TestSchedulerShortPeriod(t *testing.T) {
	var s scheduler
	var mu sync.Mutex
	runs := 0
	defer s.every(time.Microsecond, 0, func() {
		mu.Lock()
		runs++
		mu.Unlock()
	})()
	testkit.WaitFor(t, time.Minute, "ten rounds", func() bool { return s.wakes.Load() >= 10 })
	mu.Lock()
	defer mu.Unlock()
	if rounds := s.wakes.Load(); uint64(runs) > rounds+1 {
		t.Errorf("%d runs in %d rounds", runs, rounds)
	}
}
