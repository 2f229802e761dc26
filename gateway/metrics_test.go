package gateway

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

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
	observe := m.callObserver("kvm-1")
	observe("start", 10*time.Millisecond, nil)
	observe("start", 30*time.Millisecond, errors.New("lost"))
	observe("keepalive", time.Millisecond, nil)
	m.callObserver("kvm-2")("start", 20*time.Millisecond, nil)
	m.callObserver("kvm-1")("keepalive", time.Millisecond, nil) // a supervisor started again counts on
	if err := testutil.CollectAndCompare(hostCounters{m}, strings.NewReader(`
# HELP vmgate_libvirt_call_errors_total libvirt calls that failed, by host and procedure.
# TYPE vmgate_libvirt_call_errors_total counter
vmgate_libvirt_call_errors_total{host="kvm-1",procedure="start"} 1
# HELP vmgate_libvirt_call_seconds_total Seconds spent in libvirt calls, by host and procedure.
# TYPE vmgate_libvirt_call_seconds_total counter
vmgate_libvirt_call_seconds_total{host="kvm-1",procedure="keepalive"} 0.002
vmgate_libvirt_call_seconds_total{host="kvm-1",procedure="start"} 0.04
vmgate_libvirt_call_seconds_total{host="kvm-2",procedure="start"} 0.02
# HELP vmgate_libvirt_calls_total libvirt calls made, by host and procedure (or the vmgate operation a call serves).
# TYPE vmgate_libvirt_calls_total counter
vmgate_libvirt_calls_total{host="kvm-1",procedure="keepalive"} 2
vmgate_libvirt_calls_total{host="kvm-1",procedure="start"} 2
vmgate_libvirt_calls_total{host="kvm-2",procedure="start"} 1
`), "vmgate_libvirt_call_errors_total", "vmgate_libvirt_call_seconds_total", "vmgate_libvirt_calls_total"); err != nil {
		t.Error(err)
	}
	var start dto.Metric // the fleet-wide histogram, by procedure only
	if err := m.calls.WithLabelValues("start").(prometheus.Metric).Write(&start); err != nil {
		t.Fatal(err)
	}
	if h := start.GetHistogram(); h.GetSampleCount() != 3 || math.Abs(h.GetSampleSum()-0.06) > 1e-9 {
		t.Errorf("start calls histogram: %d calls, %v s; want 3 and 0.06", h.GetSampleCount(), h.GetSampleSum())
	}
	if got := testutil.CollectAndCount(m.calls); got != 2 {
		t.Errorf("%d call histograms, want 2 (start, keepalive)", got)
	}

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
	var resyncs dto.Metric // over every host: the two new syncs
	if err := m.resync.WithLabelValues().(prometheus.Metric).Write(&resyncs); err != nil {
		t.Fatal(err)
	}
	if h := resyncs.GetHistogram(); h.GetSampleCount() != 2 || h.GetSampleSum() != 3 {
		t.Errorf("resync histogram: %d resyncs, %v s; want 2 and 3", h.GetSampleCount(), h.GetSampleSum())
	}
	if err := testutil.CollectAndCompare(hostCounters{m}, strings.NewReader(`
# HELP vmgate_host_last_sync_duration_seconds Seconds the host's last full resync took; absent before the first.
# TYPE vmgate_host_last_sync_duration_seconds gauge
vmgate_host_last_sync_duration_seconds{host="kvm-1"} 2
# HELP vmgate_host_resyncs_total Full resyncs of the host (connect to view filled).
# TYPE vmgate_host_resyncs_total counter
vmgate_host_resyncs_total{host="kvm-1"} 2
`), "vmgate_host_last_sync_duration_seconds", "vmgate_host_resyncs_total"); err != nil {
		t.Error(err)
	}
	m.forget("kvm-1")
	if got := testutil.CollectAndCount(hostCounters{m}); got != 2 { // kvm-2's calls and seconds
		t.Errorf("%d per-host series after forgetting kvm-1, want 2", got)
	}
	if n := testutil.CollectAndCount(m.reconnects); n != 0 {
		t.Errorf("%d series of a forgotten host remain", n)
	}
}
