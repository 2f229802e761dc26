// Package etcdwatch keeps a replica's copy of one etcd prefix current, for the stores
// that live in etcd (the index registry, the templates): load at open, watch from the
// next revision, reload after a compaction, and a quorum probe. What the keys mean
// stays with the store; it imports only the etcd client.
package etcdwatch

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Config says which prefix to mirror and how to apply it to the owner's state.
type Config struct {
	Client  *clientv3.Client
	Prefix  string
	Timeout time.Duration // bounds a reload after a compaction
	Logger  *slog.Logger
	// Lock is the owner's: Reset, Put and Delete run under it, so that the owner's
	// state and the mirror's revision move together.
	Lock sync.Locker
	// Reset empties the owner's state before a load applies every key again.
	Reset func()
	// Put and Delete apply one key-value (a Delete carries the key only).
	Put, Delete func(kv *mvccpb.KeyValue)
	// ReloadFailed is told when the mirror could not be reloaded after a compaction;
	// WatchFailed (optional) when the watch ended with another error, such as the
	// loss of the leader. Neither runs under Lock, nor once the mirror is closing.
	ReloadFailed, WatchFailed func(err error)
}

// Mirror holds the revision up to which the owner's state reflects etcd.
type Mirror struct {
	cfg Config

	mu       sync.Mutex
	rev      int64
	advanced chan struct{} // closed and replaced when rev moves

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// New returns a mirror that has read nothing yet: Load, then Start.
func New(cfg Config) *Mirror {
	return &Mirror{cfg: cfg, advanced: make(chan struct{})}
}

// Load reads everything under the prefix, page by page at one revision, and applies it
// under the owner's lock to a state emptied by Reset.
func (m *Mirror) Load(ctx context.Context) error {
	var kvs []*mvccpb.KeyValue
	end := clientv3.GetPrefixRangeEnd(m.cfg.Prefix)
	from, rev := m.cfg.Prefix, int64(0)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(1000)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := m.cfg.Client.Get(ctx, from, opts...)
		if err != nil {
			return err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		kvs = append(kvs, resp.Kvs...)
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	m.cfg.Lock.Lock()
	defer m.cfg.Lock.Unlock()
	m.cfg.Reset()
	for _, kv := range kvs {
		m.cfg.Put(kv)
	}
	m.advance(rev)
	return nil
}

// Start runs the watch, and the owner's loops, each in a goroutine until Stop.
func (m *Mirror) Start(loops ...func(context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	for _, loop := range append([]func(context.Context){m.watch}, loops...) {
		m.done.Add(1)
		go func() { defer m.done.Done(); loop(ctx) }()
	}
}

// Stop ends the watch and the loops Start began, and waits for them.
func (m *Mirror) Stop() {
	m.cancel()
	m.done.Wait()
}

// watch keeps the owner's state current from the mirror's revision on until ctx is
// done; a watch that ends (no leader, compaction) starts again in a moment.
func (m *Mirror) watch(ctx context.Context) {
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		watch := m.cfg.Client.Watch(wctx, m.cfg.Prefix, clientv3.WithPrefix(), clientv3.WithRev(m.Rev()+1))
		for resp := range watch {
			if err := resp.Err(); err != nil {
				m.ended(ctx, err)
				break
			}
			m.apply(resp.Events)
		}
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ended handles a watch that ended with err: a compacted revision reloads the mirror.
func (m *Mirror) ended(ctx context.Context, err error) {
	report := m.cfg.WatchFailed
	if errors.Is(err, rpctypes.ErrCompacted) {
		m.cfg.Logger.Warn("etcd watch behind a compaction; reloading", "prefix", m.cfg.Prefix, "err", err)
		lctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
		err = m.Load(lctx)
		cancel()
		report = m.cfg.ReloadFailed
	}
	if err != nil && report != nil && ctx.Err() == nil { // not the watch's end at Close
		report(err)
	}
}

func (m *Mirror) apply(events []*clientv3.Event) {
	m.cfg.Lock.Lock()
	defer m.cfg.Lock.Unlock()
	var last int64
	for _, ev := range events {
		if ev.Type == clientv3.EventTypeDelete {
			m.cfg.Delete(ev.Kv)
		} else {
			m.cfg.Put(ev.Kv)
		}
		last = max(last, ev.Kv.ModRevision)
	}
	m.advance(last)
}

// advance records that the owner's state reflects etcd up to rev.
func (m *Mirror) advance(rev int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rev > m.rev {
		m.rev = rev
		close(m.advanced)
		m.advanced = make(chan struct{})
	}
}

// Rev returns the revision up to which the owner's state reflects etcd.
func (m *Mirror) Rev() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rev
}

// Wait waits until the owner's state reflects revision rev (a write just made), so
// that the next read finds it there; at most until ctx is done. Call it without the
// owner's lock.
func (m *Mirror) Wait(ctx context.Context, rev int64) {
	for {
		m.mu.Lock()
		ok, ch := m.rev >= rev, m.advanced
		m.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// Quorum reports whether etcd answers a linearizable read of key within timeout: a
// member cut off from the majority cannot, so a store that saw etcd fail learns here
// that it is back.
func Quorum(ctx context.Context, cli *clientv3.Client, key string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := cli.Get(ctx, key)
	return err == nil
}
