package hosts

import (
	"fmt"
	"strings"
	"testing"
	"time"
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

// Hosts' phases spread over the period.
func TestPhaseOfSpreads(t *testing.T) {
	const period, hosts, buckets = 10 * time.Second, 1000, 10
	var n [buckets]int
	for h := range hosts {
		p := phaseOf(fmt.Sprintf("fleet%03d", h), period)
		if p < 0 || p >= period {
			t.Fatalf("phase %v outside [0, %v)", p, period)
		}
		n[p*buckets/period]++
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
