package cluster_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/gateway/cluster"
	"github.com/vmgate/vmgate/gateway/registry/etcdtest"
)

// events records OnChange calls as "+name" (joined) and "-name/state" (left).
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) on(m cluster.Member, joined bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if joined {
		e.got = append(e.got, "+"+m.Name)
	} else {
		e.got = append(e.got, "-"+m.Name+"/"+string(m.State))
	}
}

func (e *events) has(s string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Contains(e.got, s)
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.got)
}

// start runs replica name on cli until the test ends; Close is left to the caller.
func start(t *testing.T, cli *clientv3.Client, name string, index uint32, ev *events, degraded func() bool) *cluster.Cluster {
	t.Helper()
	c := cluster.New(cluster.Config{
		Client: cli, Prefix: "/cluster-test/", Replica: name, Timeout: 5 * time.Second,
		Addresses: func() []string { return []string{"udp:127.0.0.1:16" + string(rune('0'+index))} },
		Index:     func() uint32 { return index },
		Degraded:  degraded,
		OnChange:  ev.on,
	}, slog.New(slog.DiscardHandler), cluster.WithTTL(2*time.Second))
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func names(c *cluster.Cluster) []string {
	var out []string
	for _, m := range c.Members() {
		out = append(out, m.Name)
	}
	return out
}

// TestMembers: replicas list each other by index; one that stops is dropped at once
// (its lease revoked), one that dies once its lease expires; the others are told of
// both, a replica never of itself.
func TestMembers(t *testing.T) {
	etcd := etcdtest.Start(t)
	var evA, evB, evC events
	healthy := func() bool { return false }
	a := start(t, etcd.Client(), "gw-a", 2, &evA, healthy)
	defer a.Close()
	b := start(t, etcd.Client(), "gw-b", 1, &evB, healthy)

	testkit.WaitFor(t, 10*time.Second, "both list both", func() bool {
		return slices.Equal(names(a), []string{"gw-b", "gw-a"}) && slices.Equal(names(b), []string{"gw-b", "gw-a"})
	})
	ms := a.Members()
	if m := ms[0]; m.State != cluster.Up || m.Addresses[0] != "udp:127.0.0.1:161" || m.Heartbeat.IsZero() || m.UpSince.IsZero() {
		t.Errorf("gw-b as gw-a sees it: %+v", m)
	}
	testkit.WaitFor(t, 10*time.Second, "gw-a told of gw-b's join", func() bool { return evA.has("+gw-b") })
	if got := evB.list(); len(got) != 0 {
		t.Errorf("gw-b, which joined last, was told %v", got)
	}

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "gw-b gone from gw-a at once", func() bool {
		return slices.Equal(names(a), []string{"gw-a"}) && evA.has("-gw-b/unknown")
	})

	// gw-c dies: its client goes, nothing revokes its lease.
	cCli := etcd.Client()
	c := start(t, cCli, "gw-c", 3, &evC, healthy)
	testkit.WaitFor(t, 10*time.Second, "gw-a lists gw-c", func() bool { return slices.Contains(names(a), "gw-c") })
	cCli.Close()
	testkit.WaitFor(t, 30*time.Second, "gw-c dropped once its lease expired", func() bool {
		return slices.Equal(names(a), []string{"gw-a"}) && evA.has("-gw-c/unknown")
	})
	_ = c.Close() // the revoke fails: its client is closed
	if got := evA.list(); slices.Contains(got, "+gw-a") || slices.Contains(got, "-gw-a/unknown") {
		t.Errorf("gw-a was told of itself: %v", got)
	}
}

// TestMembersDegraded: a replica that has lost the registry says so of itself and
// shows the others' state as unknown.
func TestMembersDegraded(t *testing.T) {
	etcd := etcdtest.Start(t)
	var ev events
	var mu sync.Mutex
	down := false
	degraded := func() bool { mu.Lock(); defer mu.Unlock(); return down }
	a := start(t, etcd.Client(), "gw-a", 1, &ev, degraded)
	defer a.Close()
	b := start(t, etcd.Client(), "gw-b", 2, &ev, func() bool { return false })
	defer b.Close()
	testkit.WaitFor(t, 10*time.Second, "gw-a lists gw-b", func() bool { return len(a.Members()) == 2 })
	mu.Lock()
	down = true
	mu.Unlock()
	got := a.Members()
	if got[0].State != cluster.Degraded || got[1].State != cluster.Unknown {
		t.Fatalf("degraded gw-a: %+v", got)
	}
	testkit.WaitFor(t, 10*time.Second, "gw-b sees gw-a degraded", func() bool {
		ms := b.Members()
		return len(ms) == 2 && ms[0].State == cluster.Degraded && ms[1].State == cluster.Up
	})
}
