package coord

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/gateway/registry/etcdtest"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/snmp"
)

// replica is one coordinator on its own etcd client, locking what scope says and
// recording the domains it is asked to re-read.
type replica struct {
	*Etcd
	cli *clientv3.Client

	mu        sync.Mutex
	refreshed []hosts.UUID
}

func newReplica(t *testing.T, c *etcdtest.Cluster, name string, hostNames []string, global bool, opts ...Option) *replica {
	t.Helper()
	r := &replica{cli: c.Client()}
	r.Etcd = New(Config{
		Client: r.cli, Prefix: "/t/", Replica: name, Timeout: 2 * time.Second,
		Scope: func(*snmp.Request, []snmp.SetVar) ([]string, bool) { return hostNames, global },
		Refresh: func(_ context.Context, _ string, id hosts.UUID) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.refreshed = append(r.refreshed, id)
			return nil
		},
	}, slog.New(slog.DiscardHandler), opts...)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func (r *replica) lock(t *testing.T) func() {
	t.Helper()
	release, err := r.Lock(context.Background(), &snmp.Request{}, nil)
	if err != nil {
		t.Fatalf("%s: lock: %v", r.cfg.Replica, err)
	}
	return release
}

// TestLockExcludesReplicas: two replicas taking the same locks (in the opposite order
// of their scopes' hosts, sorted alike) never hold them at once and never deadlock.
func TestLockExcludesReplicas(t *testing.T) {
	c := etcdtest.Start(t)
	a := newReplica(t, c, "a", []string{"h1", "h2"}, true)
	b := newReplica(t, c, "b", []string{"h1", "h2"}, true)
	var inside atomic.Int32
	var overlap atomic.Bool
	var wg sync.WaitGroup
	for _, r := range []*replica{a, b} {
		wg.Go(func() {
			for range 15 {
				release := r.lock(t)
				if inside.Add(1) > 1 {
					overlap.Store(true)
				}
				inside.Add(-1)
				release()
			}
		})
	}
	wg.Wait()
	if overlap.Load() {
		t.Fatal("both replicas held the lock at once")
	}
}

// TestLockOfDeadReplica: a replica that dies holding a host's lock (its lease no
// longer kept alive) blocks the others until the lease expires, then they get it.
func TestLockOfDeadReplica(t *testing.T) {
	c := etcdtest.Start(t)
	a := newReplica(t, c, "a", []string{"h1"}, false, WithLockTTL(2*time.Second))
	b := newReplica(t, c, "b", []string{"h1"}, false, WithLockTTL(2*time.Second))
	_ = a.lock(t) // never released
	a.mu.Lock()
	a.sess.Orphan() // the keep-alive stops as when the process dies
	a.mu.Unlock()
	got := make(chan error, 1)
	go func() {
		release, err := b.Lock(context.Background(), &snmp.Request{}, nil)
		if err == nil {
			release()
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("b: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("b never got the dead replica's lock")
	}
}

// TestLockWithoutQuorum: without quorum Lock fails within the operation timeout (the
// SET answers resourceUnavailable); with quorum back it works again, on a new session
// when the old lease is gone.
func TestLockWithoutQuorum(t *testing.T) {
	c := etcdtest.Start(t)
	a := newReplica(t, c, "a", []string{"h1"}, false, WithLockTTL(2*time.Second))
	a.lock(t)()
	c.Kill(1)
	c.Kill(2)
	if _, err := a.Lock(context.Background(), &snmp.Request{}, nil); err == nil {
		t.Fatal("locked without quorum")
	}
	if _, err := a.Seen(context.Background(), "u", sha256.Sum256([]byte("m")), time.Minute); err == nil {
		t.Fatal("recorded a message without quorum")
	}
	c.Heal()
	testkit.WaitFor(t, 60*time.Second, "a lock with quorum back", func() bool {
		release, err := a.Lock(context.Background(), &snmp.Request{}, nil)
		if err != nil {
			return false
		}
		release()
		return true
	})
}

// TestSharedReplay: a message one replica recorded is a replay to the other; an
// answer one stored is the other's.
func TestSharedReplay(t *testing.T) {
	c := etcdtest.Start(t)
	a := newReplica(t, c, "a", nil, false)
	b := newReplica(t, c, "b", nil, false)
	ctx := context.Background()
	d := sha256.Sum256([]byte("message"))
	if fresh, err := a.Seen(ctx, "ops", d, time.Minute); err != nil || !fresh {
		t.Fatalf("a: Seen = %v, %v; want fresh", fresh, err)
	}
	if fresh, err := b.Seen(ctx, "ops", d, time.Minute); err != nil || fresh {
		t.Fatalf("b: Seen = %v, %v; want seen", fresh, err)
	}
	k := sha256.Sum256([]byte("set key"))
	if _, ok, err := b.Answer(ctx, k); err != nil || ok {
		t.Fatalf("b: an answer before any: %v, %v", ok, err)
	}
	if err := a.StoreAnswer(ctx, k, []byte("0 0"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := b.Answer(ctx, k); err != nil || !ok || string(got) != "0 0" {
		t.Fatalf("b: Answer = %q, %v, %v; want a's", got, ok, err)
	}
}

// TestFences: the domains a SET changed under a host's lock are re-read by the next
// other replica that takes it, once; a replica's own are not.
func TestFences(t *testing.T) {
	c := etcdtest.Start(t)
	a := newReplica(t, c, "a", []string{"h1"}, false)
	b := newReplica(t, c, "b", []string{"h1"}, false)
	id := hosts.UUID{0xaa, 15: 1}
	release := a.lock(t)
	a.Touched("h1", id)
	release()
	a.lock(t)()
	b.lock(t)()
	b.lock(t)()
	if len(a.refreshed) != 0 {
		t.Fatalf("a re-read its own change: %v", a.refreshed)
	}
	if len(b.refreshed) != 1 || b.refreshed[0] != id {
		t.Fatalf("b re-read %v, want [%v]", b.refreshed, id)
	}
}

// TestAnswerWithRelease: the answer of a SET that holds locks is written in the
// transaction that releases them, with its fences: the replica that takes the lock
// next finds both. If that transaction fails (here: the answer's lease revoked behind
// the replica's back), each is written on its own and the lock still goes.
func TestAnswerWithRelease(t *testing.T) {
	c := etcdtest.Start(t)
	a := newReplica(t, c, "a", []string{"h1"}, false)
	b := newReplica(t, c, "b", []string{"h1"}, false)
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		lostLease bool
	}{{"one transaction", false}, {"lease lost", true}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.lostLease {
				lease, err := a.leaseFor(ctx, time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := a.cli.Revoke(ctx, lease); err != nil {
					t.Fatal(err)
				}
			}
			k := sha256.Sum256([]byte(tc.name))
			id := hosts.UUID{0xbb, 15: byte(len(b.refreshed) + 1)}
			release := a.lock(t)
			a.Touched("h1", id)
			if err := a.StoreAnswer(ctx, k, []byte("0 0"), time.Minute); err != nil {
				t.Fatal(err)
			}
			release()
			b.lock(t)()
			if got, ok, err := b.Answer(ctx, k); err != nil || !ok || string(got) != "0 0" {
				t.Fatalf("b: Answer = %q, %v, %v; want a's", got, ok, err)
			}
			if n := len(b.refreshed); n == 0 || b.refreshed[n-1] != id {
				t.Fatalf("b re-read %v, want %v last", b.refreshed, id)
			}
		})
	}
}

// TestHeldFencesLostLocks: Held confirms the running SET's locks while they are the
// replica's; once its lease is gone (revoked here, as an expiry after an etcd outage
// longer than the TTL would) another replica takes them, and Held says so, naming
// etcd: the engine then commits nothing (resourceUnavailable).
func TestHeldFencesLostLocks(t *testing.T) {
	c := etcdtest.Start(t)
	a := newReplica(t, c, "a", []string{"h1"}, true)
	b := newReplica(t, c, "b", []string{"h1"}, true)
	ctx := context.Background()
	if err := a.Held(ctx); err != nil {
		t.Fatalf("Held without a SET: %v", err)
	}
	release := a.lock(t)
	if err := a.Held(ctx); err != nil {
		t.Fatalf("Held under the lock: %v", err)
	}
	a.mu.Lock()
	lease := a.sess.Lease()
	a.mu.Unlock()
	if _, err := a.cli.Revoke(ctx, lease); err != nil {
		t.Fatal(err)
	}
	b.lock(t)() // the locks are free for the other replica
	err := a.Held(ctx)
	if err == nil || !strings.Contains(err.Error(), "etcd") {
		t.Fatalf("Held after the lease went: %v, want an error naming etcd", err)
	}
	release()
	if err := a.Held(ctx); err != nil {
		t.Fatalf("Held after the release: %v", err)
	}
	// The session whose lease went is replaced: the replica's SETs lock again.
	testkit.WaitFor(t, 30*time.Second, "a lock on a new session", func() bool {
		release, err := a.Lock(ctx, &snmp.Request{}, nil)
		if err == nil {
			release()
		}
		return err == nil
	})
}
