package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/vmgate/vmgate/gateway/internal/etcdwatch"
)

// ErrUnavailable is returned by Etcd's Bind when etcd cannot be reached or has no
// quorum: the number cannot be reserved cluster-wide.
var ErrUnavailable = errors.New("index registry unavailable")

// EtcdConfig says how to reach the etcd cluster that holds the registry.
type EtcdConfig struct {
	Endpoints []string // host:port or http(s)://host:port
	Prefix    string   // every key of the registry starts with it, e.g. "/vmgate/"
	// DialTimeout bounds connecting and reading the registry at open; Timeout bounds
	// every operation afterwards.
	DialTimeout, Timeout      time.Duration
	CAFile, CertFile, KeyFile string // PEM; TLS when any is set or an endpoint is https://
	Username, Password        string
	Replica                   string // this gateway, recorded with what it writes
}

// Etcd is the Store of replicas sharing one etcd cluster. The registry lives in etcd
// under PREFIX/idx/NS/:
//
//	key/KEY       {"id":N,"released":T,"by":REPLICA}   the key's number
//	id/%010d      KEY                                   who holds number N
//	last          N                                     the counter: largest number allocated
//
// A key and its number are written together in one transaction that requires both to
// be absent (and the counter unchanged when it moves), so two replicas that allocate
// at the same moment agree on one number and none is handed out twice. Each replica
// keeps a mirror of the whole registry, read at open and kept current by a watch, so
// that Lookup, Free, NextFree and Index of a known key cost no round trip. Releases
// and revivals are written in the background; a released key keeps its number for the
// grace period, then any replica purges it.
//
// When etcd is unreachable or without quorum, known keys keep their numbers (from the
// mirror), Index of a new key returns 0 at once (the view shows the object once etcd
// is back, never with a provisional number), Bind returns ErrUnavailable, and releases
// wait. A probe notices when etcd is back.
type Etcd struct {
	cli     *clientv3.Client
	root    string // PREFIX + "idx/"
	probe   string // a key outside root read to test quorum
	mark    string // a key outside root rewritten by every write under it (Sync)
	replica string
	timeout time.Duration
	logger  *slog.Logger
	set     settings

	mu      sync.Mutex
	mirror  *etcdwatch.Mirror
	spaces  map[string]*mirrorSpace
	pending map[[2]string]change
	// unbind are Binds whose transaction failed without an answer: the caller was
	// told they failed, but etcd may apply them once it can. If the mirror learns of
	// one before the key is bound or allocated again, its removal is queued.
	unbind  map[[2]string]uint32
	down    bool
	downLog time.Time // last "still unreachable" line
	refused int       // new keys refused since downLog
	closed  bool

	kick chan struct{} // wakes the background loop: a change is pending
}

// mirrorSpace is one namespace as etcd holds it, up to Etcd.rev.
type mirrorSpace struct {
	last    uint32
	lastRev int64 // ModRevision of the counter; 0 when it does not exist
	entries map[string]*mirrorEntry
	ids     map[uint32]string
}

type mirrorEntry struct {
	id       uint32
	released *time.Time
	rev      int64 // ModRevision of the key's record
}

// change is a key's state this replica has decided but not yet written to etcd.
type change struct {
	id       uint32     // the number the key had when the change was made
	released *time.Time // nil: in use
	remove   bool       // Unbind that could not be written at once
}

// record is the value of a key's record.
type record struct {
	ID       uint32     `json:"id"`
	Released *time.Time `json:"released,omitempty"`
	By       string     `json:"by,omitempty"`
}

// OpenEtcd connects to etcd and reads the whole registry into the mirror before it
// returns, so that a replica serves the same numbers as the others from its first
// answer. It fails when etcd cannot be read within cfg.DialTimeout.
func OpenEtcd(cfg EtcdConfig, logger *slog.Logger, opts ...Option) (*Etcd, error) {
	eps := strings.Join(cfg.Endpoints, ",")
	tlsCfg, err := etcdTLS(cfg)
	if err != nil {
		return nil, fmt.Errorf("index registry: etcd %s: %w", eps, err)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: cfg.Endpoints, DialTimeout: cfg.DialTimeout, TLS: tlsCfg,
		Username: cfg.Username, Password: cfg.Password, Logger: zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("index registry: etcd %s: %w", eps, err)
	}
	e := &Etcd{
		cli: cli, root: cfg.Prefix + "idx/", probe: cfg.Prefix + "probe", mark: cfg.Prefix + "idxrev",
		replica: cfg.Replica,
		timeout: cfg.Timeout, logger: logger.With("component", "registry", "etcd", eps),
		set: newSettings(opts), pending: map[[2]string]change{},
		unbind: map[[2]string]uint32{},
		kick:   make(chan struct{}, 1),
	}
	e.mirror = etcdwatch.New(etcdwatch.Config{
		Client: cli, Prefix: e.root, Timeout: e.timeout, Logger: e.logger, Lock: &e.mu,
		Reset: func() { e.spaces = map[string]*mirrorSpace{} },
		Put:   e.applyPut, Delete: e.applyDelete,
		ReloadFailed: e.markDown, // a watch that merely ended says nothing of etcd
	})
	ctx, cancel := context.WithTimeout(context.Background(), cfg.DialTimeout)
	defer cancel()
	if err := e.mirror.Load(ctx); err != nil {
		cli.Close()
		return nil, fmt.Errorf("index registry: etcd %s: read %s: %w", eps, e.root, err)
	}
	e.mirror.Start(e.background)
	return e, nil
}

// Client returns the store's etcd client, for other users of the same cluster (the
// templates, the SET locks) to share its connections. It is closed by Close: close its
// users first.
func (e *Etcd) Client() *clientv3.Client { return e.cli }

// Degraded reports whether etcd is, as far as the store knows, unreachable or without
// quorum: new keys get no index until the probe gets an answer.
func (e *Etcd) Degraded() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.down
}

// etcdTLS builds the client's TLS configuration; nil for plain text.
func etcdTLS(cfg EtcdConfig) (*tls.Config, error) {
	https := false
	for _, ep := range cfg.Endpoints {
		https = https || strings.HasPrefix(ep, "https://")
	}
	if !https && cfg.CAFile == "" && cfg.CertFile == "" && cfg.KeyFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate", cfg.CAFile)
		}
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file/key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// Key layout.

func (e *Etcd) nsRoot(ns string) string { return e.root + url.PathEscape(ns) + "/" }
func (e *Etcd) keyKey(ns, key string) string {
	return e.nsRoot(ns) + "key/" + key
}
func (e *Etcd) idKey(ns string, id uint32) string {
	return e.nsRoot(ns) + fmt.Sprintf("id/%010d", id)
}
func (e *Etcd) lastKey(ns string) string { return e.nsRoot(ns) + "last" }

// parseKey splits an etcd key under root into namespace, kind (key, id, last) and the
// rest; ok false for anything else.
func (e *Etcd) parseKey(k string) (ns, kind, rest string, ok bool) {
	s, ok := strings.CutPrefix(k, e.root)
	if !ok {
		return "", "", "", false
	}
	esc, s, ok := strings.Cut(s, "/")
	if !ok {
		return "", "", "", false
	}
	ns, err := url.PathUnescape(esc)
	if err != nil {
		return "", "", "", false
	}
	if s == "last" {
		return ns, "last", "", true
	}
	kind, rest, ok = strings.Cut(s, "/")
	return ns, kind, rest, ok && (kind == "key" || kind == "id")
}

// Mirror.

// Sync waits until the mirror reflects every write to the registry made before the
// call, at most until ctx is done: a replica that took a lock then sees every number
// bound under it before. The newest write's revision is the mark's, which every write
// transaction rewrites: one key read, whatever the registry's size. A registry
// without a mark (written before it existed) is searched for its newest record.
func (e *Etcd) Sync(ctx context.Context) error {
	resp, err := e.cli.Get(ctx, e.mark)
	if err == nil && len(resp.Kvs) == 0 {
		resp, err = e.cli.Get(ctx, e.root, clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithLimit(1),
			clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortDescend))
	}
	if err != nil {
		return fmt.Errorf("index registry: %w", err)
	}
	if len(resp.Kvs) > 0 {
		e.mirror.Wait(ctx, resp.Kvs[0].ModRevision)
	}
	return ctx.Err()
}

// marked adds the rewrite of the mark to the operations of a write transaction.
func (e *Etcd) marked(ops ...clientv3.Op) []clientv3.Op {
	return append(ops, clientv3.OpPut(e.mark, ""))
}

func space(spaces map[string]*mirrorSpace, ns string) *mirrorSpace {
	sp := spaces[ns]
	if sp == nil {
		sp = &mirrorSpace{entries: map[string]*mirrorEntry{}, ids: map[uint32]string{}}
		spaces[ns] = sp
	}
	return sp
}

// spaceOf returns the namespace of kv's key with its mirror, the key's kind (key, last;
// "" for a key that is not the registry's) and the rest. Called with e.mu held.
func (e *Etcd) spaceOf(kv *mvccpb.KeyValue) (sp *mirrorSpace, ns, kind, rest string) {
	ns, kind, rest, ok := e.parseKey(string(kv.Key))
	if !ok {
		return nil, "", "", ""
	}
	return space(e.spaces, ns), ns, kind, rest
}

// applyPut applies one key-value of etcd to the mirror. Called with e.mu held.
// Malformed values are skipped: they are not ours to fix, and no number is handed out
// that their id record holds.
func (e *Etcd) applyPut(kv *mvccpb.KeyValue) {
	sp, ns, kind, rest := e.spaceOf(kv)
	switch kind {
	case "last":
		n, err := strconv.ParseUint(string(kv.Value), 10, 32)
		if err != nil || n > MaxIndex {
			e.logger.Warn("index registry: bad counter in etcd", "key", string(kv.Key))
			return
		}
		sp.last, sp.lastRev = uint32(n), kv.ModRevision
	case "key":
		var r record
		if err := json.Unmarshal(kv.Value, &r); err != nil || r.ID == 0 || r.ID > MaxIndex {
			e.logger.Warn("index registry: bad record in etcd", "key", string(kv.Key))
			return
		}
		sp.drop(rest)
		if other, ok := sp.ids[r.ID]; ok {
			delete(sp.entries, other) // stale: its delete is on its way
		}
		sp.entries[rest] = &mirrorEntry{id: r.ID, released: r.Released, rev: kv.ModRevision}
		sp.ids[r.ID] = rest
		if id, ok := e.unbind[[2]string{ns, rest}]; ok && id == r.ID {
			// A Bind that failed here without an answer: etcd applied it after all, so it
			// is removed now (the background loop writes it).
			delete(e.unbind, [2]string{ns, rest})
			e.pending[[2]string{ns, rest}] = change{id: id, remove: true}
			e.wake()
		}
	}
}

func (e *Etcd) applyDelete(kv *mvccpb.KeyValue) {
	sp, _, kind, rest := e.spaceOf(kv)
	switch kind {
	case "last":
		sp.last, sp.lastRev = 0, 0
	case "key":
		sp.drop(rest)
	}
}

func (sp *mirrorSpace) drop(key string) {
	if m, ok := sp.entries[key]; ok {
		if sp.ids[m.id] == key {
			delete(sp.ids, m.id)
		}
		delete(sp.entries, key)
	}
}

// Store.

// entry returns key's state as this replica sees it: the mirror with this replica's
// pending change applied. Called with e.mu held.
func (e *Etcd) entry(ns, key string) (m *mirrorEntry, released *time.Time, ok bool) {
	sp := e.spaces[ns]
	if sp == nil {
		return nil, nil, false
	}
	m, ok = sp.entries[key]
	if !ok {
		return nil, nil, false
	}
	if c, has := e.pending[[2]string{ns, key}]; has && c.id == m.id {
		if c.remove {
			return m, nil, false
		}
		return m, c.released, true
	}
	return m, m.released, true
}

func (e *Etcd) expired(released *time.Time) bool {
	return released != nil && e.set.now().Sub(*released) > e.set.grace
}

// Index returns key's number, allocating one in etcd for a new key (one transaction,
// bounded by the configured timeout). A known key answers from the mirror; a released
// one is revived in the background. 0 when every number is taken or when etcd cannot
// be reached: a new key gets no number until it can be agreed on.
func (e *Etcd) Index(namespace, key string) uint32 {
	e.mu.Lock()
	m, released, ok := e.entry(namespace, key)
	switch {
	case ok && released == nil:
		e.mu.Unlock()
		return m.id
	case m != nil && !e.expired(released):
		// Released (within grace) or unbound while etcd was away. The revival is written
		// before answering, so that no other replica purges the number meanwhile; only
		// while etcd is away is it answered from the mirror and written later.
		k := [2]string{namespace, key}
		e.pending[k] = change{id: m.id}
		id, down := m.id, e.down
		e.mu.Unlock()
		if down {
			e.wake()
			return id
		}
		ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
		ok := e.write(ctx, k, change{id: id})
		cancel()
		e.mu.Lock()
		if now, rel, found := e.entry(namespace, key); !ok || found && now.id == id && rel == nil {
			e.mu.Unlock()
			if !ok {
				e.wake()
			}
			return id // revived, or etcd went away: the mirror's answer stands
		}
		m, _, _ = e.entry(namespace, key) // purged or renumbered meanwhile: allocate
	}
	var old *mirrorEntry
	if m != nil {
		c := *m
		old = &c
		delete(e.pending, [2]string{namespace, key})
	}
	if e.down {
		e.refuse(namespace, key)
		e.mu.Unlock()
		return 0
	}
	e.mu.Unlock()
	return e.allocate(namespace, key, old)
}

// allocate gives a new (or expired: old) key the next number in one transaction:
// the key's record and the number's record must not exist (the expired record must be
// unchanged), and the counter, when it moves, must be the one the number was chosen
// from. On conflict the answers of the failed transaction choose again.
func (e *Etcd) allocate(ns, key string, old *mirrorEntry) uint32 {
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	kk := e.keyKey(ns, key)
	taken := map[uint32]bool{}
	e.mu.Lock()
	sp := space(e.spaces, ns)
	last, lastRev := sp.last, sp.lastRev
	e.mu.Unlock()
	for attempt := 0; ; attempt++ {
		e.mu.Lock()
		id := sp.next(last, taken)
		e.mu.Unlock()
		if id == 0 || attempt == 1000 {
			e.logger.Error("index registry: no number for a new key", "namespace", ns, "key", key,
				"attempts", attempt)
			return 0
		}
		val, _ := json.Marshal(record{ID: id, By: e.replica})
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(e.idKey(ns, id)), "=", 0)}
		then := []clientv3.Op{clientv3.OpPut(kk, string(val)), clientv3.OpPut(e.idKey(ns, id), key)}
		if old == nil {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(kk), "=", 0))
		} else {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(kk), "=", old.rev))
			then = append(then, clientv3.OpDelete(e.idKey(ns, old.id)))
		}
		if id > last {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(e.lastKey(ns)), "=", lastRev))
			then = append(then, clientv3.OpPut(e.lastKey(ns), strconv.FormatUint(uint64(id), 10)))
		}
		resp, err := e.cli.Txn(ctx).If(cmps...).Then(e.marked(then...)...).Else(
			clientv3.OpGet(kk), clientv3.OpGet(e.idKey(ns, id)), clientv3.OpGet(e.lastKey(ns)),
		).Commit()
		if err != nil {
			e.mu.Lock()
			e.markDownLocked(err)
			e.refuse(ns, key)
			e.mu.Unlock()
			return 0
		}
		if resp.Succeeded {
			e.mu.Lock()
			delete(e.unbind, [2]string{ns, key}) // the key has its number now: keep it
			e.mu.Unlock()
			e.mirror.Wait(ctx, resp.Header.Revision)
			return id
		}
		// Lost: another replica got the key, the number or the counter first.
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 1 &&
			(old == nil || kvs[0].ModRevision != old.rev) {
			var r record
			if json.Unmarshal(kvs[0].Value, &r) == nil && r.ID != 0 && r.ID <= MaxIndex && !e.expired(r.Released) {
				if r.Released != nil { // revive it, as Index does
					e.mu.Lock()
					e.pending[[2]string{ns, key}] = change{id: r.ID}
					e.mu.Unlock()
					e.wake()
				}
				e.mirror.Wait(ctx, kvs[0].ModRevision)
				return r.ID
			}
			c := mirrorEntry{id: r.ID, rev: kvs[0].ModRevision}
			old = &c // expired meanwhile, or damaged: replace it
		}
		if len(resp.Responses[1].GetResponseRange().Kvs) == 1 {
			taken[id] = true
		}
		last, lastRev = 0, 0
		if kvs := resp.Responses[2].GetResponseRange().Kvs; len(kvs) == 1 {
			if n, err := strconv.ParseUint(string(kvs[0].Value), 10, 32); err == nil && n <= MaxIndex {
				last, lastRev = uint32(n), kvs[0].ModRevision
			}
		}
	}
}

// next returns the number a new key gets, counting from last: the first above it no
// entry holds, else the lowest such number below it; 0 when every number is held.
// taken are numbers found held in etcd but not yet in the mirror.
func (sp *mirrorSpace) next(last uint32, taken map[uint32]bool) uint32 {
	held := func(id uint32) bool {
		_, ok := sp.ids[id]
		return ok || taken[id]
	}
	for id := last + 1; id <= MaxIndex && id != 0; id++ {
		if !held(id) {
			return id
		}
	}
	for id := uint32(1); id <= last; id++ {
		if !held(id) {
			return id
		}
	}
	return 0
}

// Lookup returns key's number from the mirror; false if it has none or its grace
// period is over.
func (e *Etcd) Lookup(namespace, key string) (uint32, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m, released, ok := e.entry(namespace, key)
	if !ok || e.expired(released) {
		return 0, false
	}
	return m.id, true
}

// Release marks key released now; the change is written to etcd in the background
// (later if etcd is away). The key keeps its number for the grace period.
func (e *Etcd) Release(namespace, key string) {
	e.mu.Lock()
	m, released, ok := e.entry(namespace, key)
	if ok && released == nil {
		t := e.set.now()
		e.pending[[2]string{namespace, key}] = change{id: m.id, released: &t}
	}
	e.mu.Unlock()
	e.wake()
}

// Free reports whether id is held by no key of namespace (expired keys do not count).
func (e *Etcd) Free(namespace string, id uint32) bool {
	if id == 0 || id > MaxIndex {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.owner(namespace, id) == ""
}

// owner returns the key holding id ("" for none). Called with e.mu held.
func (e *Etcd) owner(ns string, id uint32) string {
	sp := e.spaces[ns]
	if sp == nil {
		return ""
	}
	key, ok := sp.ids[id]
	if !ok {
		return ""
	}
	if _, released, ok := e.entry(ns, key); !ok || e.expired(released) {
		return ""
	}
	return key
}

// NextFree returns the number Index would most likely give the next new key: a hint
// for managers choosing a vmId, which Bind then reserves for good.
func (e *Etcd) NextFree(namespace string) uint32 {
	e.mu.Lock()
	defer e.mu.Unlock()
	sp := space(e.spaces, namespace)
	return sp.next(sp.last, nil)
}

// Bind gives key the number id in one transaction: id's record must be absent or held
// by an expired key (which goes), key's record unchanged. ErrTaken when another key
// holds id, ErrUnavailable when etcd cannot be reached. The counter does not move.
func (e *Etcd) Bind(namespace, key string, id uint32) error {
	if id == 0 || id > MaxIndex {
		return fmt.Errorf("bind %s %q: index %d out of range", namespace, key, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	kk, ik := e.keyKey(namespace, key), e.idKey(namespace, id)
	for attempt := 0; attempt < 100; attempt++ {
		e.mu.Lock()
		if e.down {
			e.mu.Unlock()
			return fmt.Errorf("bind %s %q to %d: %w: etcd unreachable", namespace, key, id, ErrUnavailable)
		}
		if other := e.owner(namespace, id); other != "" && other != key {
			e.mu.Unlock()
			return fmt.Errorf("bind %s %q to %d: %w (by %q)", namespace, key, id, ErrTaken, other)
		}
		sp := space(e.spaces, namespace)
		var cmps []clientv3.Cmp
		val, _ := json.Marshal(record{ID: id, By: e.replica})
		then := []clientv3.Op{clientv3.OpPut(kk, string(val)), clientv3.OpPut(ik, key)}
		if m := sp.entries[key]; m == nil {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(kk), "=", 0))
		} else {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(kk), "=", m.rev))
			if m.id != id {
				then = append(then, clientv3.OpDelete(e.idKey(namespace, m.id)))
			}
		}
		if holder, ok := sp.ids[id]; !ok {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(ik), "=", 0))
		} else if holder != key {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(e.keyKey(namespace, holder)), "=", sp.entries[holder].rev))
			then = append(then, clientv3.OpDelete(e.keyKey(namespace, holder)))
		}
		delete(e.pending, [2]string{namespace, key})
		// Before the transaction, not after: the watch may apply its Put first, and an
		// earlier failed Bind of the key must not have this one removed.
		delete(e.unbind, [2]string{namespace, key})
		e.mu.Unlock()
		resp, err := e.cli.Txn(ctx).If(cmps...).Then(e.marked(then...)...).Else(clientv3.OpGet(ik)).Commit()
		if err != nil {
			e.markDown(err)
			e.mu.Lock()
			e.unbind[[2]string{namespace, key}] = id // etcd may apply it once it can
			e.mu.Unlock()
			return fmt.Errorf("bind %s %q to %d: %w: %w", namespace, key, id, ErrUnavailable, err)
		}
		if resp.Succeeded {
			e.mirror.Wait(ctx, resp.Header.Revision)
			return nil
		}
		// The mirror was behind: wait for what etcd holds now, and decide again.
		rev := resp.Header.Revision
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 1 {
			rev = kvs[0].ModRevision
		}
		e.mirror.Wait(ctx, rev)
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("bind %s %q to %d: %w: no agreement within %s", namespace, key, id, ErrUnavailable, e.timeout)
}

// Unbind removes key and its number from etcd at once; if etcd is away, the removal
// waits like a release (meanwhile the number stays free for this replica only).
func (e *Etcd) Unbind(namespace, key string) {
	e.mu.Lock()
	m, _, ok := e.entry(namespace, key)
	if !ok {
		e.mu.Unlock()
		return
	}
	c := change{id: m.id, remove: true}
	e.pending[[2]string{namespace, key}] = c
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	e.write(ctx, [2]string{namespace, key}, c)
}

// Close stops the watch and the background loop, writes the pending changes if etcd
// answers, and disconnects. It reports changes left unwritten.
func (e *Etcd) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	e.flush(ctx) // while the watch runs: each write waits for the mirror to have it
	e.mirror.Stop()
	e.mu.Lock()
	n := len(e.pending)
	e.mu.Unlock()
	if err := e.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("index registry: etcd: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("index registry: etcd: %d releases not written", n)
	}
	return nil
}

// Health and background work.

// markDown records that etcd failed to answer; new keys are refused until the probe
// gets an answer.
func (e *Etcd) markDown(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.markDownLocked(err)
}

func (e *Etcd) markDownLocked(err error) {
	if e.down || e.closed {
		return
	}
	e.down = true
	e.downLog = e.set.now()
	e.logger.Error("index registry: etcd unreachable or without quorum: new VMs and devices get no index, SETs that need one fail, until it is back",
		"err", err)
}

// refuse counts a new key refused while etcd is away and says so at most every 30s.
// Called with e.mu held.
func (e *Etcd) refuse(ns, key string) {
	e.refused++
	if now := e.set.now(); now.Sub(e.downLog) >= 30*time.Second {
		e.logger.Warn("index registry: etcd still unreachable; new keys wait for an index",
			"refused", e.refused, "namespace", ns, "key", key)
		e.downLog, e.refused = now, 0
	}
}

// wake tells the background loop that a change is pending.
func (e *Etcd) wake() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// background writes pending changes, purges expired keys and, while etcd is away,
// probes it every second.
func (e *Etcd) background(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastPurge := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.kick:
		case <-tick.C:
		}
		e.mu.Lock()
		down := e.down
		e.mu.Unlock()
		if down && !e.probeQuorum(ctx) {
			continue
		}
		opCtx, cancel := context.WithTimeout(ctx, e.timeout)
		e.flush(opCtx)
		if time.Since(lastPurge) >= e.set.purgeEvery {
			lastPurge = time.Now()
			e.purge(opCtx)
		}
		cancel()
	}
}

// probeQuorum reads a key with a quorum read; on success etcd is back.
func (e *Etcd) probeQuorum(ctx context.Context) bool {
	if !etcdwatch.Quorum(ctx, e.cli, e.probe, e.timeout) {
		return false
	}
	e.mu.Lock()
	e.down = false
	refused := e.refused
	e.refused = 0
	e.mu.Unlock()
	e.logger.Info("index registry: etcd reachable again", "refused_meanwhile", refused)
	return true
}

// flush writes every pending change, one transaction each, until one fails to reach etcd.
func (e *Etcd) flush(ctx context.Context) {
	e.mu.Lock()
	todo := make(map[[2]string]change, len(e.pending))
	for k, c := range e.pending {
		todo[k] = c
	}
	e.mu.Unlock()
	for k, c := range todo {
		if !e.write(ctx, k, c) {
			return
		}
	}
}

// write applies one change to etcd if key's record is still the one it was made on,
// and forgets it once written or overtaken. false when etcd did not answer.
func (e *Etcd) write(ctx context.Context, k [2]string, c change) bool {
	ns, key := k[0], k[1]
	e.mu.Lock()
	m := space(e.spaces, ns).entries[key]
	if m == nil || m.id != c.id {
		e.forget(k, c) // the key went or changed number meanwhile: nothing to do
		e.mu.Unlock()
		return true
	}
	rev := m.rev
	e.mu.Unlock()
	kk := e.keyKey(ns, key)
	var ops []clientv3.Op
	if c.remove {
		ops = []clientv3.Op{clientv3.OpDelete(kk), clientv3.OpDelete(e.idKey(ns, c.id))}
	} else {
		val, _ := json.Marshal(record{ID: c.id, Released: c.released, By: e.replica})
		ops = []clientv3.Op{clientv3.OpPut(kk, string(val))}
	}
	resp, err := e.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(kk), "=", rev)).Then(e.marked(ops...)...).
		Else(clientv3.OpGet(kk)).Commit()
	if err != nil {
		e.markDown(err)
		return false
	}
	if resp.Succeeded {
		e.mirror.Wait(ctx, resp.Header.Revision)
		e.mu.Lock()
		e.forget(k, c)
		e.mu.Unlock()
		return true
	}
	// Another replica changed the record: once the mirror has that, the change is
	// written again on it (same number) or dropped (gone, renumbered).
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 1 {
		e.mirror.Wait(ctx, kvs[0].ModRevision)
	} else {
		e.mu.Lock()
		e.forget(k, c)
		e.mu.Unlock()
	}
	return true
}

// forget drops k's pending change if it is still c. Called with e.mu held.
func (e *Etcd) forget(k [2]string, c change) {
	if p, ok := e.pending[k]; ok && p.id == c.id && p.remove == c.remove && p.released == c.released {
		delete(e.pending, k)
	}
}

// purge removes the keys whose grace period is over, with their numbers, unless a
// replica changed them meanwhile. Any replica may do it; the transactions make it safe.
func (e *Etcd) purge(ctx context.Context) {
	type victim struct {
		ns, key string
		id      uint32
		rev     int64
	}
	var vs []victim
	e.mu.Lock()
	for ns, sp := range e.spaces {
		for key, m := range sp.entries {
			if _, busy := e.pending[[2]string{ns, key}]; !busy && e.expired(m.released) {
				vs = append(vs, victim{ns, key, m.id, m.rev})
			}
		}
	}
	e.mu.Unlock()
	for _, v := range vs {
		kk := e.keyKey(v.ns, v.key)
		_, err := e.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(kk), "=", v.rev)).
			Then(e.marked(clientv3.OpDelete(kk), clientv3.OpDelete(e.idKey(v.ns, v.id)))...).Commit()
		if err != nil {
			e.markDown(err)
			return
		}
	}
}

var _ Store = (*Etcd)(nil)
