package coord

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/snmp"
)

// Defaults of an Etcd coordinator.
const (
	// DefaultLockTTL is the lease of a replica's locks: a replica that dies holding
	// one blocks the SETs of its hosts for at most this long.
	DefaultLockTTL = 10 * time.Second
	// fenceTTL is how long the UUIDs a SET changed stay in etcd for the other
	// replicas: longer than libvirt's events take to reach their views.
	fenceTTL = 5 * time.Minute
)

// Scope says which hosts a SET changes and whether it needs the global lock
// (mib.Handler.SetScope).
type Scope func(r *snmp.Request, vars []snmp.SetVar) (hostNames []string, global bool)

// Refresh re-reads a domain of a host into this replica's view (hosts.Supervisor.Refresh).
type Refresh func(ctx context.Context, host string, id hosts.UUID) error

// Config is what an Etcd coordinator works with.
type Config struct {
	Client  *clientv3.Client
	Prefix  string // the registry's prefix; the coordinator's keys are under PREFIX/set/
	Replica string
	Timeout time.Duration // each etcd operation
	Scope   Scope
	Refresh Refresh
	// Sync waits until this replica's index registry reflects etcd (registry.Etcd.Sync),
	// so that a lock holder sees every vmId bound before it.
	Sync func(ctx context.Context) error
}

// Option tunes an Etcd coordinator.
type Option func(*Etcd)

// WithLockTTL sets the lease of the locks (DefaultLockTTL); tests shorten it.
func WithLockTTL(d time.Duration) Option { return func(e *Etcd) { e.ttl = d } }

// Etcd is the snmp.SetCoordinator of replicas sharing an etcd cluster. Keys, under
// PREFIX/set/:
//
//	lock/global, lock/host/HOST   concurrency.Mutex prefixes, on this replica's session
//	fence/HOST/REPLICA/N          the UUIDs a SET under HOST's lock changed
//	seen/USER/DIGEST              an authenticated SET message, until it is too old
//	answer/KEY                    the answer to a SET, for a manager's retry
//
// Sessions and records carry leases, so a dead replica's locks free themselves and
// the replay record forgets on its own. After taking a host's lock a replica re-reads
// the domains other replicas' SETs changed there (fences), since libvirt's events may
// not have reached its view yet: the checks of a SET (free name, free vmId) then see
// every change made under the lock before.
type Etcd struct {
	cfg  Config
	root string
	ttl  time.Duration
	log  *slog.Logger

	mu      sync.Mutex
	sess    *concurrency.Session
	fenced  map[string]int64        // per host: fences up to this revision re-read
	touched map[string][]hosts.UUID // the running SET's changes (SETs of one engine run one at a time)
	holding bool                    // the running SET holds locks: its answer waits for their release
	held    []*concurrency.Mutex    // the locks the running SET holds
	answer  *answer                 // the running SET's answer, written when it releases its locks
	leases  map[time.Duration]lease // by TTL, shared by the replay and fence records
	n       uint64                  // fence counter
}

// answer is a SET's answer to store (StoreAnswer).
type answer struct {
	key   string
	value []byte
	ttl   time.Duration
}

type lease struct {
	id    clientv3.LeaseID
	until time.Time // it lives at least until then
}

var _ snmp.SetCoordinator = (*Etcd)(nil)

// New returns the coordinator; it talks to etcd on the first SET.
func New(cfg Config, logger *slog.Logger, opts ...Option) *Etcd {
	e := &Etcd{cfg: cfg, root: cfg.Prefix + "set/", ttl: DefaultLockTTL,
		log: logger, fenced: map[string]int64{}, leases: map[time.Duration]lease{}}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Close ends this replica's session: its locks are released at once.
func (e *Etcd) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sess == nil {
		return nil
	}
	err := e.sess.Close()
	e.sess = nil
	return err
}

// Touched records that the running SET changed domain id of host (control.WithTouch):
// the other replicas re-read it when they next lock host.
func (e *Etcd) Touched(host string, id hosts.UUID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.touched == nil {
		e.touched = map[string][]hosts.UUID{}
	}
	e.touched[host] = append(e.touched[host], id)
}

// session returns the replica's session, a new one when there is none or its lease
// is gone (etcd was away for longer than the TTL).
func (e *Etcd) session(ctx context.Context) (*concurrency.Session, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sess != nil {
		select {
		case <-e.sess.Done():
			e.sess = nil
		default:
			return e.sess, nil
		}
	}
	s, err := concurrency.NewSession(e.cfg.Client, concurrency.WithTTL(max(1, int(e.ttl/time.Second))),
		concurrency.WithContext(context.WithoutCancel(ctx)))
	if err != nil {
		return nil, fmt.Errorf("etcd session: %w", err)
	}
	e.sess = s
	return s, nil
}

// dropSession forgets sess if it is still the replica's session.
func (e *Etcd) dropSession(sess *concurrency.Session) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sess == sess {
		e.sess = nil
		go sess.Orphan() // its keep-alive ends; the lease is gone anyway
	}
}

// Lock implements snmp.SetCoordinator: the global lock first, then the hosts' in
// name order (one order for every replica: no deadlock), then the registry brought
// up to date and the re-reads of the fences. The wait for a lock another replica
// holds is bounded by ctx (the engine bounds a request), each etcd call by Timeout.
func (e *Etcd) Lock(ctx context.Context, r *snmp.Request, vars []snmp.SetVar) (func(), error) {
	hostNames, global := e.cfg.Scope(r, vars)
	e.mu.Lock()
	e.touched = nil
	e.mu.Unlock()
	if len(hostNames) == 0 && !global {
		return func() {}, nil
	}
	sctx, scancel := context.WithTimeout(ctx, e.cfg.Timeout)
	sess, err := e.session(sctx)
	scancel()
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(hostNames)+1)
	if global {
		keys = append(keys, e.root+"lock/global")
	}
	for _, h := range hostNames {
		keys = append(keys, e.root+"lock/host/"+url.PathEscape(h))
	}
	var held []*concurrency.Mutex
	unlock := func() {
		ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Timeout)
		defer cancel()
		for i := len(held) - 1; i >= 0; i-- {
			if err := held[i].Unlock(ctx); err != nil {
				e.log.Warn("set lock not released: it expires with the replica's lease", "lock",
					strings.TrimPrefix(held[i].Key(), e.root), "ttl", e.ttl, "err", err)
			}
		}
	}
	for _, k := range keys {
		m := concurrency.NewMutex(sess, k)
		// Try first within the operation timeout: etcd without quorum fails fast; only
		// a lock another replica holds is waited for.
		tctx, tcancel := context.WithTimeout(ctx, e.cfg.Timeout)
		err := m.TryLock(tctx)
		tcancel()
		if errors.Is(err, concurrency.ErrLocked) {
			err = m.Lock(ctx)
		}
		if err != nil {
			unlock()
			if errors.Is(err, rpctypes.ErrLeaseNotFound) {
				e.dropSession(sess) // its lease went before the keep-alive noticed: the next SET starts a new one
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("lock %s: another replica held it for the whole request: %w",
					strings.TrimPrefix(k, e.root), err)
			}
			return nil, fmt.Errorf("lock %s: %w", strings.TrimPrefix(k, e.root), err)
		}
		held = append(held, m)
	}
	if e.cfg.Sync != nil {
		sctx, scancel := context.WithTimeout(ctx, e.cfg.Timeout)
		err := e.cfg.Sync(sctx)
		scancel()
		if err != nil {
			unlock()
			return nil, err
		}
	}
	if err := e.refence(ctx, hostNames); err != nil {
		unlock()
		return nil, err
	}
	e.mu.Lock()
	e.holding, e.answer, e.held = true, nil, held
	e.mu.Unlock()
	return func() { e.release(held, unlock) }, nil
}

// Held implements snmp.SetCoordinator: the running SET's locks are still this
// replica's when its session lives and etcd confirms (a quorum read) that each lock's
// key is the one Lock created. Without that, another replica may hold them: nothing
// must be committed.
func (e *Etcd) Held(ctx context.Context) error {
	e.mu.Lock()
	held, sess := e.held, e.sess
	e.mu.Unlock()
	if len(held) == 0 {
		return nil
	}
	if sess == nil {
		return errors.New("etcd: the set locks' session is gone")
	}
	select {
	case <-sess.Done():
		return fmt.Errorf("etcd: the set locks' lease (%v) expired", e.ttl)
	default:
	}
	cmps := make([]clientv3.Cmp, len(held))
	for i, m := range held {
		cmps[i] = m.IsOwner()
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	resp, err := e.cfg.Client.Txn(ctx).If(cmps...).Commit()
	if err != nil {
		return fmt.Errorf("etcd: set locks not confirmed: %w", err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("etcd: set locks lost (their lease expired): another replica may hold them")
	}
	return nil
}

// release ends a SET that held locks: its answer, its fences and the locks' release
// in one transaction, so that they cost one etcd round trip and another replica that
// takes a lock next sees the answer and the fences with it. If that transaction
// fails, each is tried on its own, as the SET would have done without it.
func (e *Etcd) release(held []*concurrency.Mutex, unlock func()) {
	e.mu.Lock()
	ans := e.answer
	e.holding, e.answer, e.held = false, nil, nil
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Timeout)
	defer cancel()
	var ops []clientv3.Op
	if ans != nil {
		if op, err := e.answerOp(ctx, ans); err == nil {
			ops = append(ops, op)
		}
	}
	fences, ferr := e.fenceOps(ctx)
	ops = append(ops, fences...)
	for _, m := range held {
		ops = append(ops, clientv3.OpDelete(m.Key()))
	}
	if len(ops) <= maxTxnOps {
		_, err := e.cfg.Client.Txn(ctx).Then(ops...).Commit()
		if err == nil {
			return
		}
		e.forget(fenceTTL, err)
		if ans != nil {
			e.forget(ans.ttl, err)
		}
	}
	if ans != nil {
		if err := e.storeAnswer(ctx, ans); err != nil {
			e.log.Warn("set answer not shared with the other replicas (etcd): a retry there runs it again", "err", err)
		}
	}
	e.putFences(ctx, fences, ferr)
	unlock()
}

// maxTxnOps bounds the operations of release's transaction: etcd refuses more than
// its --max-txn-ops (128 by default).
const maxTxnOps = 100

// refence re-reads the domains other replicas changed on hostNames since this
// replica last looked.
func (e *Etcd) refence(ctx context.Context, hostNames []string) error {
	for _, h := range hostNames {
		e.mu.Lock()
		from := e.fenced[h]
		e.mu.Unlock()
		octx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
		resp, err := e.cfg.Client.Get(octx, e.root+"fence/"+url.PathEscape(h)+"/", clientv3.WithPrefix(),
			clientv3.WithMinModRev(from+1))
		cancel()
		if err != nil {
			return fmt.Errorf("read fences of %s: %w", h, err)
		}
		mine := e.root + "fence/" + url.PathEscape(h) + "/" + url.PathEscape(e.cfg.Replica) + "/"
		for _, kv := range resp.Kvs {
			if strings.HasPrefix(string(kv.Key), mine) {
				continue
			}
			for _, s := range strings.Fields(string(kv.Value)) {
				id, err := hosts.ParseUUID(s)
				if err != nil {
					continue // not ours to fix
				}
				// A host down is resynced whole when it is back; the SET's checks
				// ask whether it is up.
				if err := e.cfg.Refresh(ctx, h, id); err != nil && !errors.Is(err, hosts.ErrNotFound) {
					e.log.Warn("set: a domain another replica changed not re-read", "host", h, "uuid", id, "err", err)
				}
			}
		}
		e.mu.Lock()
		e.fenced[h] = resp.Header.Revision
		e.mu.Unlock()
	}
	return nil
}

// fenceOps takes the running SET's changes and returns the puts of their fences, or
// why there are none though it changed something.
func (e *Etcd) fenceOps(ctx context.Context) ([]clientv3.Op, error) {
	e.mu.Lock()
	touched := e.touched
	e.touched = nil
	e.mu.Unlock()
	if len(touched) == 0 {
		return nil, nil
	}
	lease, err := e.leaseFor(ctx, fenceTTL)
	if err != nil {
		return nil, err
	}
	var ops []clientv3.Op
	for h, ids := range touched {
		var b strings.Builder
		for _, id := range ids {
			b.WriteString(id.String() + " ")
		}
		e.mu.Lock()
		e.n++
		k := fmt.Sprintf("%sfence/%s/%s/%d-%d", e.root, url.PathEscape(h), url.PathEscape(e.cfg.Replica),
			time.Now().UnixNano(), e.n)
		e.mu.Unlock()
		ops = append(ops, clientv3.OpPut(k, b.String(), clientv3.WithLease(lease)))
	}
	return ops, nil
}

// putFences writes fences (fenceOps) one by one, before the SET's locks go:
// release's way when its transaction failed.
func (e *Etcd) putFences(ctx context.Context, fences []clientv3.Op, err error) {
	for _, op := range fences {
		if _, err = e.cfg.Client.Do(ctx, op); err != nil {
			e.forget(fenceTTL, err)
			break
		}
	}
	if err != nil {
		e.log.Warn("set: the domains it changed are not announced to the other replicas (etcd): their views catch up by libvirt's events",
			"err", err)
	}
}

// leaseFor returns a lease that lives at least ttl more: one lease per ttl, granted
// for ttl and a tenth and shared by the records written meanwhile, not one per record.
func (e *Etcd) leaseFor(ctx context.Context, ttl time.Duration) (clientv3.LeaseID, error) {
	e.mu.Lock()
	if l, ok := e.leases[ttl]; ok && time.Until(l.until) >= ttl {
		e.mu.Unlock()
		return l.id, nil
	}
	e.mu.Unlock()
	life := ttl + ttl/10
	start := time.Now()
	l, err := e.cfg.Client.Grant(ctx, int64((life+time.Second-1)/time.Second))
	if err != nil {
		return 0, fmt.Errorf("etcd lease: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.leases[ttl] = lease{id: l.ID, until: start.Add(life)}
	return l.ID, nil
}

// forget drops a cached lease etcd no longer knows, so that the next write grants one.
func (e *Etcd) forget(ttl time.Duration, err error) {
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		e.mu.Lock()
		delete(e.leases, ttl)
		e.mu.Unlock()
	}
}

// Seen implements snmp.SetCoordinator: the digest's key is created unless it exists.
func (e *Etcd) Seen(ctx context.Context, user string, digest [sha256.Size]byte, ttl time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	lease, err := e.leaseFor(ctx, ttl)
	if err != nil {
		return false, err
	}
	k := e.root + "seen/" + url.PathEscape(user) + "/" + hex.EncodeToString(digest[:])
	resp, err := e.cfg.Client.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, e.cfg.Replica, clientv3.WithLease(lease))).Commit()
	if err != nil {
		e.forget(ttl, err)
		return false, fmt.Errorf("etcd: record the message: %w", err)
	}
	return resp.Succeeded, nil
}

// Answer implements snmp.SetCoordinator.
func (e *Etcd) Answer(ctx context.Context, key [sha256.Size]byte) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	resp, err := e.cfg.Client.Get(ctx, e.root+"answer/"+hex.EncodeToString(key[:]))
	if err != nil {
		return nil, false, fmt.Errorf("etcd: read the answers: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return nil, false, nil
	}
	return resp.Kvs[0].Value, true, nil
}

// StoreAnswer implements snmp.SetCoordinator. The answer of a SET that holds locks is
// written when it releases them, in the same transaction.
func (e *Etcd) StoreAnswer(ctx context.Context, key [sha256.Size]byte, value []byte, ttl time.Duration) error {
	a := &answer{key: e.root + "answer/" + hex.EncodeToString(key[:]), value: value, ttl: ttl}
	e.mu.Lock()
	if e.holding {
		e.answer = a
		e.mu.Unlock()
		return nil
	}
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.Timeout)
	defer cancel()
	return e.storeAnswer(ctx, a)
}

func (e *Etcd) storeAnswer(ctx context.Context, a *answer) error {
	op, err := e.answerOp(ctx, a)
	if err != nil {
		return err
	}
	_, err = e.cfg.Client.Do(ctx, op)
	e.forget(a.ttl, err)
	return err
}

// answerOp is the put of a, on a lease that lives at least its ttl.
func (e *Etcd) answerOp(ctx context.Context, a *answer) (clientv3.Op, error) {
	lease, err := e.leaseFor(ctx, a.ttl)
	if err != nil {
		return clientv3.Op{}, err
	}
	return clientv3.OpPut(a.key, string(a.value), clientv3.WithLease(lease)), nil
}
