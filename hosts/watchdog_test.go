package hosts

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
)

// The watchdog probes at a tick only when nothing was answered since the last one: a
// call answered in between stands for the probe (also one made while the probe ran),
// the probe's own answer does not.
func TestWatchdogProbesOnlySilentConnections(t *testing.T) {
	requireLibvirtd(t)
	calls := &callCounter{}
	sink := newFakeSink()
	cfg := Config{Name: "watchdog", URI: "test+unix://" + writeNode(t, t.TempDir()), KeepaliveInterval: time.Hour,
		KeepaliveTimeout: 5 * time.Second, StatsInterval: time.Hour} // nothing calls after the first poll
	s := startSupervisor(t, cfg, sink, WithCallObserver(calls.observe))
	waitUp(t, sink)
	testkit.WaitFor(t, 30*time.Second, "first stats", func() bool { _, _, _, n := sink.counts(); return n > 0 })
	// The disk sizes the resync left are read after the first stats: their answers
	// would stand for a probe.
	testkit.WaitFor(t, 30*time.Second, "the disk sizes", func() bool { return s.SizesDue() == 0 })
	c, err := s.conn()
	if err != nil {
		t.Fatal(err)
	}
	w := &watchdog{s: s, c: c}
	probes := func() int {
		return len(slices.DeleteFunc(calls.snapshot(), func(p string) bool { return p != "keepalive" }))
	}
	tick := func() int {
		t.Helper()
		w.tick()
		testkit.WaitFor(t, 30*time.Second, "the probe's end", func() bool { return !w.probing.Load() })
		return probes()
	}
	if n := tick(); n != 0 {
		t.Errorf("first tick, after the session's calls: %d probes, want 0", n)
	}
	if n := tick(); n != 1 {
		t.Errorf("a silent interval: %d probes, want 1", n)
	}
	if n := tick(); n != 2 {
		t.Errorf("an interval with only the probe's answer: %d probes, want 2", n)
	}
	sctx := withSession(context.Background(), c)
	if _, err := callT(sctx, c, "version", func(l *lv) (uint64, error) { return l.ConnectGetLibVersion() }); err != nil {
		t.Fatal(err)
	}
	if n := tick(); n != 2 {
		t.Errorf("an interval with a call answered: %d probes, want still 2", n)
	}
	if n := tick(); n != 3 {
		t.Errorf("silent again: %d probes, want 3", n)
	}
	// A call that falls due with the probe (a poll with its tick): its answer is news,
	// whichever of the two answers first.
	w.tick()
	if _, err := callT(sctx, c, "version", func(l *lv) (uint64, error) { return l.ConnectGetLibVersion() }); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "the probe's end", func() bool { return !w.probing.Load() })
	if n := probes(); n != 4 {
		t.Errorf("silent, then a call beside the probe: %d probes, want 4", n)
	}
	if n := tick(); n != 4 {
		t.Errorf("an interval with a call answered beside the probe: %d probes, want still 4", n)
	}
}
