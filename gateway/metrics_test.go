package gateway

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vmgate/vmgate/hosts"
)

// TestMetricsEvents: the counts kept as events happen (the scrape-time ones are in
// e2e's TestHTTP): SET outcomes from the answered status, notifications per target,
// reconnects and resyncs from health changes, libvirt calls per procedure.
func TestMetricsEvents(t *testing.T) {
	m := newMetrics(&Gateway{opts: Options{Version: "test"}})
	for _, r := range []string{"noError", "wrongValue", "noAccess", "commitFailed", "undoFailed", "dropped"} {
		m.Request("set", r, time.Millisecond)
	}
	m.Request("get", "noError", time.Millisecond)
	m.notified(3, errors.Join(errors.New("notify[0]: timeout")))
	m.notified(3, nil)
	m.dropped()
	t0 := time.Unix(1000, 0)
	for _, h := range []hosts.Health{
		{Status: hosts.Connecting},
		{Status: hosts.Up, LastSync: t0, LastSyncDuration: time.Second},
		{Status: hosts.Up, LastSync: t0, LastSyncDuration: time.Second}, // the same sync again
		{Status: hosts.Down, LastSync: t0},
		{Status: hosts.Up, LastSync: t0.Add(time.Minute), LastSyncDuration: 2 * time.Second},
	} {
		m.health("kvm-1", h)
	}
	obs := m.hostOptions("kvm-1")
	if len(obs) != 1 {
		t.Fatalf("%d host options", len(obs))
	}
	m.calls.WithLabelValues("kvm-1", "start").Observe(0.01)
	m.callErrors.WithLabelValues("kvm-1", "start").Inc()

	for _, c := range []struct {
		c    prometheus.Counter
		name string
		want float64
	}{
		{m.sets.WithLabelValues("committed"), "sets committed", 1},
		{m.sets.WithLabelValues("rejected"), "sets rejected", 2},
		{m.sets.WithLabelValues("failed"), "sets failed", 1},
		{m.sets.WithLabelValues("undo_failed"), "sets undo_failed", 1},
		{m.sets.WithLabelValues("dropped"), "sets dropped", 1},
		{m.notes.WithLabelValues("sent"), "notifications sent", 5},
		{m.notes.WithLabelValues("failed"), "notifications failed", 1},
		{m.notes.WithLabelValues("dropped"), "notifications dropped", 1},
		{m.reconnects.WithLabelValues("kvm-1"), "reconnects", 1},
		{m.requests.WithLabelValues("get", "noError"), "get noError", 1},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if got := testutil.CollectAndCount(m.resync); got != 1 {
		t.Errorf("%d resync series, want 1", got)
	}
	m.forget("kvm-1")
	if n := testutil.CollectAndCount(m.calls) + testutil.CollectAndCount(m.callErrors) +
		testutil.CollectAndCount(m.reconnects) + testutil.CollectAndCount(m.resync); n != 0 {
		t.Errorf("%d series of a forgotten host remain", n)
	}
}
