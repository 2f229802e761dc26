package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/gateway/registry/etcdtest"
)

// openTestEtcd opens a replica's store on cluster c under prefix, closed at cleanup.
func openTestEtcd(t *testing.T, c *etcdtest.Cluster, prefix, replica string, logs *testkit.Buffer, opts ...Option) *Etcd {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	e, err := OpenEtcd(EtcdConfig{
		Endpoints: c.Endpoints(), Prefix: prefix, DialTimeout: 10 * time.Second,
		// Generous: a loaded test machine must not pass for an etcd outage.
		Timeout: 5 * time.Second, Replica: replica,
	}, logger, opts...)
	if err != nil {
		t.Fatalf("OpenEtcd: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// TestEtcdReplicasAgree: two replicas allocate the same 1,000 keys at once from
// several goroutines each, in different orders; every answer for a key is the same
// number and no number serves two keys. A replica opened afterwards reads them back.
func TestEtcdReplicasAgree(t *testing.T) {
	c := etcdtest.Start(t)
	a := openTestEtcd(t, c, "/agree/", "a", nil)
	b := openTestEtcd(t, c, "/agree/", "b", nil)
	const keys, workers = 1000, 4
	type answer struct {
		key string
		id  uint32
	}
	var mu sync.Mutex
	var answers []answer
	var wg sync.WaitGroup
	for w := range 2 * workers {
		store := a
		if w%2 == 1 {
			store = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			order := rand.Perm(keys)
			local := make([]answer, 0, keys)
			for _, i := range order {
				k := fmt.Sprintf("uuid-%04d", i)
				local = append(local, answer{k, store.Index(NSVM, k)})
			}
			mu.Lock()
			answers = append(answers, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	byKey := map[string]uint32{}
	byID := map[uint32]string{}
	for _, an := range answers {
		if an.id == 0 {
			t.Fatalf("key %s got 0 from a healthy cluster", an.key)
		}
		if prev, ok := byKey[an.key]; ok && prev != an.id {
			t.Fatalf("key %s got %d and %d", an.key, prev, an.id)
		}
		if other, ok := byID[an.id]; ok && other != an.key {
			t.Fatalf("number %d handed to %s and %s", an.id, other, an.key)
		}
		byKey[an.key], byID[an.id] = an.id, an.key
	}
	if len(byKey) != keys {
		t.Fatalf("%d keys answered, want %d", len(byKey), keys)
	}
	for id := uint32(1); id <= keys; id++ {
		if _, ok := byID[id]; !ok {
			t.Errorf("number %d unused: allocation left a hole", id)
		}
	}
	late := openTestEtcd(t, c, "/agree/", "late", nil)
	for k, id := range byKey {
		if got, ok := late.Lookup(NSVM, k); !ok || got != id {
			t.Fatalf("replica opened later: %s = %d, %v; want %d", k, got, ok, id)
		}
	}
	if got := late.Index(NSVM, "one more"); got != keys+1 {
		t.Errorf("next new key on the late replica = %d, want %d", got, keys+1)
	}
}

// TestEtcdBindAcrossReplicas: a number a manager binds on one replica is taken on the
// other; unbound, it is free there again; new keys skip it while it is held.
func TestEtcdBindAcrossReplicas(t *testing.T) {
	c := etcdtest.Start(t)
	a := openTestEtcd(t, c, "/bind/", "a", nil)
	b := openTestEtcd(t, c, "/bind/", "b", nil)
	if err := a.Bind(NSVM, "x", 2); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "b sees x bound to 2", func() bool {
		id, ok := b.Lookup(NSVM, "x")
		return ok && id == 2
	})
	if b.Free(NSVM, 2) {
		t.Error("b: a bound number is free")
	}
	if err := b.Bind(NSVM, "y", 2); !errors.Is(err, ErrTaken) {
		t.Fatalf("b binds y to a's number: %v, want ErrTaken", err)
	}
	if err := a.Bind(NSVM, "x", 2); err != nil {
		t.Fatalf("binding a key again to its number: %v", err)
	}
	if got := b.Index(NSVM, "new-1"); got != 1 {
		t.Errorf("new key = %d, want 1", got)
	}
	if got := a.Index(NSVM, "new-2"); got != 3 {
		t.Errorf("new key = %d, want 3 (2 is bound)", got)
	}
	a.Unbind(NSVM, "x")
	testkit.WaitFor(t, 30*time.Second, "b sees 2 free", func() bool { return b.Free(NSVM, 2) })
	if err := b.Bind(NSVM, "y", 2); err != nil {
		t.Fatalf("b binds y to the unbound number: %v", err)
	}
	if _, ok := a.Lookup(NSVM, "x"); ok {
		t.Error("x still has a number after Unbind")
	}
	// Two replicas binding one number to two keys at once: exactly one wins.
	errs := make(chan error, 2)
	go func() { errs <- a.Bind(NSStorage, "1/vda", 7) }()
	go func() { errs <- b.Bind(NSStorage, "2/vda", 7) }()
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) {
		t.Fatalf("concurrent binds of one number: %v and %v; want one success, one ErrTaken", e1, e2)
	}
	if err := errors.Join(e1, e2); !errors.Is(err, ErrTaken) {
		t.Fatalf("loser's error %v, want ErrTaken", err)
	}
}

// TestEtcdReleaseGracePurge: a released key keeps its number for the grace period on
// every replica and gets it back; after the grace period any replica purges it from
// etcd and it comes back with a fresh number.
func TestEtcdReleaseGracePurge(t *testing.T) {
	c := etcdtest.Start(t)
	clk := testkit.NewClock()
	opts := []Option{WithGrace(time.Hour), WithClock(clk.Now), WithPurgeEvery(time.Millisecond)}
	a := openTestEtcd(t, c, "/grace/", "a", nil, opts...)
	b := openTestEtcd(t, c, "/grace/", "b", nil, opts...)
	cli := c.Client()
	record := func(key string) (record, bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := cli.Get(ctx, "/grace/idx/vm/key/"+key)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Kvs) == 0 {
			return record{}, false
		}
		var r record
		if err := json.Unmarshal(resp.Kvs[0].Value, &r); err != nil {
			t.Fatal(err)
		}
		return r, true
	}

	id := a.Index(NSVM, "gone")
	a.Release(NSVM, "gone")
	testkit.WaitFor(t, 30*time.Second, "the release in etcd", func() bool {
		r, ok := record("gone")
		return ok && r.Released != nil && r.By == "a"
	})
	catchUp := func(r *Etcd) { // its mirror may lag behind etcd
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	catchUp(b)
	if b.Free(NSVM, id) || b.NextFree(NSVM) == id {
		t.Fatal("b: a released number is free during its grace period")
	}
	if got := b.Index(NSVM, "other"); got == id {
		t.Fatalf("b reused released number %d", id)
	}
	clk.Add(30 * time.Minute)
	if got := b.Index(NSVM, "gone"); got != id {
		t.Fatalf("b: key back within grace got %d, want %d", got, id)
	}
	testkit.WaitFor(t, 30*time.Second, "the revival in etcd", func() bool {
		r, ok := record("gone")
		return ok && r.Released == nil
	})
	b.Release(NSVM, "gone")
	testkit.WaitFor(t, 30*time.Second, "the second release in etcd", func() bool {
		r, ok := record("gone")
		return ok && r.Released != nil
	})
	clk.Add(2 * time.Hour)
	testkit.WaitFor(t, 30*time.Second, "the purge", func() bool {
		_, ok := record("gone")
		return !ok
	})
	testkit.WaitFor(t, 30*time.Second, "a's mirror without the key", func() bool {
		_, ok := a.Lookup(NSVM, "gone")
		return !ok && a.Free(NSVM, id)
	})
	if got := a.Index(NSVM, "gone"); got == id || got == 0 {
		t.Fatalf("key back after the purge got %d, want a fresh number", got)
	}
}

// TestEtcdQuorum: with one member dead allocation goes on; without quorum a new key
// gets 0 at once (no provisional number), known keys keep theirs, a Bind fails with
// ErrUnavailable and a log line names etcd; with quorum back it all works again
// without reopening, and the release made meanwhile reaches etcd.
func TestEtcdQuorum(t *testing.T) {
	c := etcdtest.Start(t)
	logs := &testkit.Buffer{}
	a := openTestEtcd(t, c, "/quorum/", "a", logs)
	known := map[string]uint32{}
	for i := range 10 {
		k := fmt.Sprintf("known-%d", i)
		known[k] = a.Index(NSVM, k)
	}

	c.Kill(0)
	c.WaitQuorum()
	testkit.WaitFor(t, 60*time.Second, "an allocation with one member dead", func() bool {
		return a.Index(NSVM, "after-one-dead") != 0
	})
	for i := range 10 {
		if a.Index(NSVM, fmt.Sprintf("one-dead-%d", i)) == 0 {
			t.Fatalf("allocation %d failed with two members of three", i)
		}
	}

	c.Kill(1)
	got := make(chan uint32, 1)
	go func() { got <- a.Index(NSVM, "no-quorum") }()
	select {
	case id := <-got:
		if id != 0 {
			t.Fatalf("new key without quorum got %d, want 0", id)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Index of a new key hangs without quorum")
	}
	if id := a.Index(NSVM, "no-quorum-2"); id != 0 {
		t.Fatalf("second new key without quorum got %d, want 0", id)
	}
	for k, id := range known {
		if got := a.Index(NSVM, k); got != id {
			t.Fatalf("known key %s without quorum = %d, want %d", k, got, id)
		}
	}
	a.Release(NSVM, "known-0")
	if err := a.Bind(NSVM, "bound", 500); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Bind without quorum: %v, want ErrUnavailable", err)
	}
	if !strings.Contains(logs.String(), "etcd unreachable") {
		t.Errorf("no log line names etcd:\n%s", logs)
	}

	c.Heal()
	var id uint32
	testkit.WaitFor(t, 60*time.Second, "an allocation with quorum back", func() bool {
		id = a.Index(NSVM, "no-quorum")
		return id != 0
	})
	for k, old := range known {
		if id == old {
			t.Fatalf("new key got %s's number %d", k, id)
		}
	}
	late := openTestEtcd(t, c, "/quorum/", "late", nil)
	testkit.WaitFor(t, 60*time.Second, "the release made without quorum in etcd", func() bool {
		return !late.Free(NSVM, known["known-0"]) && releasedIn(late, NSVM, "known-0")
	})
	if !strings.Contains(logs.String(), "etcd reachable again") {
		t.Errorf("no log line says etcd is back:\n%s", logs)
	}
}

// releasedIn reports whether e's mirror holds key as released.
func releasedIn(e *Etcd, ns, key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := space(e.spaces, ns).entries[key]
	return m != nil && m.released != nil
}

// TestEtcdRevivalAtTheGraceBoundary: a replica whose clock still has the released key
// in its grace period while another's has purged it never answers the purged number
// for it: what a replica answers is what etcd holds.
func TestEtcdRevivalAtTheGraceBoundary(t *testing.T) {
	c := etcdtest.Start(t)
	clkA, clkB := testkit.NewClock(), testkit.NewClock()
	a := openTestEtcd(t, c, "/boundary/", "a", nil, WithGrace(time.Hour), WithClock(clkA.Now), WithPurgeEvery(time.Hour))
	b := openTestEtcd(t, c, "/boundary/", "b", nil, WithGrace(time.Hour), WithClock(clkB.Now), WithPurgeEvery(time.Millisecond))
	id := a.Index(NSVM, "edge")
	a.Release(NSVM, "edge")
	testkit.WaitFor(t, 30*time.Second, "b sees the release", func() bool { return releasedIn(b, NSVM, "edge") })
	clkB.Add(2 * time.Hour) // b's clock: the grace period is over, b purges
	testkit.WaitFor(t, 30*time.Second, "the purge reaching a", func() bool {
		_, ok := a.Lookup(NSVM, "edge")
		return !ok || b.Free(NSVM, id)
	})
	got := a.Index(NSVM, "edge")
	testkit.WaitFor(t, 30*time.Second, "b agreeing with a", func() bool {
		n, ok := b.Lookup(NSVM, "edge")
		return ok && n == got
	})
	if got == 0 {
		t.Fatal("no number for the key")
	}
}

// TestEtcdSync: after Sync a replica's mirror holds every number bound or allocated
// elsewhere before the call, without waiting for the watch to happen to deliver it;
// also in a registry whose writes carry no mark (written before the mark existed).
func TestEtcdSync(t *testing.T) {
	c := etcdtest.Start(t)
	a := openTestEtcd(t, c, "/sync/", "a", nil)
	b := openTestEtcd(t, c, "/sync/", "b", nil)
	cli := c.Client()
	ctx := context.Background()
	for i := range uint32(30) {
		if err := a.Bind(NSVM, fmt.Sprintf("vm-%d", i), 100+i); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("disk-%d", i)
		id := a.Index(NSStorage, key)
		if i >= 20 {
			if _, err := cli.Delete(ctx, "/sync/idxrev"); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if b.Free(NSVM, 100+i) {
			t.Fatalf("b: %d is free after Sync; a bound it before", 100+i)
		}
		if got, ok := b.Lookup(NSStorage, key); !ok || got != id {
			t.Fatalf("b: %s is %d, %v after Sync; a allocated %d before", key, got, ok, id)
		}
	}
	c.Kill(1)
	c.Kill(2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.Sync(ctx); err == nil {
		t.Fatal("Sync without quorum succeeded")
	}
}
