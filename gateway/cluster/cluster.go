// Package cluster keeps the list of the replicas that serve the cluster through the
// registry in etcd: this replica's own record under a lease, renewed by a heartbeat,
// and a mirror of every replica's record. A replica that stops revokes its lease; one
// that dies or loses etcd leaves the list when its lease expires. It imports only the
// etcd client and the mirror helper.
package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vmgate/vmgate/gateway/internal/etcdwatch"
)

// DefaultTTL is the lease of a replica's record: how long a dead replica stays listed.
const DefaultTTL = 10 * time.Second

// State is a replica's view of the registry.
type State string

const (
	Up       State = "up"       // etcd answers with a quorum
	Degraded State = "degraded" // etcd unreachable or without quorum
	Unknown  State = "unknown"  // not known here: this replica has lost etcd itself
)

// Member is one replica's record, stored as JSON under PREFIX/replica/NAME.
type Member struct {
	Name      string    `json:"name"`
	Index     uint32    `json:"index"` // replicaIndex, from the registry; 0 not allocated yet
	Addresses []string  `json:"addresses"`
	UpSince   time.Time `json:"up_since"`
	Heartbeat time.Time `json:"heartbeat"`
	State     State     `json:"state"`
}

// Config says where the records live and what this replica writes in its own.
type Config struct {
	Client  *clientv3.Client
	Prefix  string // the registry's prefix; records go under Prefix + "replica/"
	Replica string // this replica's name
	Timeout time.Duration
	// Addresses returns the SNMP engine's addresses (transport:address:port), Index
	// this replica's replicaIndex (0 while the registry cannot allocate it: asked again
	// at each heartbeat until it can), Degraded whether the registry has lost etcd.
	Addresses func() []string
	Index     func() uint32
	Degraded  func() bool
	// OnChange is told when another replica joins or leaves (a leave carries the last
	// record, State Unknown). It runs under the cluster's lock: it must not block nor
	// call the Cluster.
	OnChange func(m Member, joined bool)
}

// Option tunes a Cluster.
type Option func(*Cluster)

// WithTTL sets the lease of the record (DefaultTTL); the heartbeat renews it every
// third of it. Tests shorten it.
func WithTTL(d time.Duration) Option { return func(c *Cluster) { c.ttl = d } }

// Cluster is this replica's membership and its copy of everyone's. Safe for
// concurrent use.
type Cluster struct {
	cfg    Config
	ttl    time.Duration
	log    *slog.Logger
	mirror *etcdwatch.Mirror
	start  time.Time
	beatMu sync.Mutex // one heartbeat at a time: the loop's and Renew's

	mu      sync.Mutex
	members map[string]Member
	prev    map[string]Member // the members before a reload: not joins again
	loaded  bool              // the first load is done: later records are joins
	started bool              // the watch and the heartbeat run
	lease   clientv3.LeaseID
	self    Member // as last written (Heartbeat: last successful write)
	failing bool   // the last heartbeat failed
}

// New returns a cluster that has done nothing yet: Start registers and reads.
func New(cfg Config, logger *slog.Logger, opts ...Option) *Cluster {
	c := &Cluster{cfg: cfg, ttl: DefaultTTL, log: logger, start: time.Now(), members: map[string]Member{}}
	for _, o := range opts {
		o(c)
	}
	c.self = Member{Name: cfg.Replica, UpSince: c.start}
	c.mirror = etcdwatch.New(etcdwatch.Config{
		Client: cfg.Client, Prefix: c.root(), Timeout: cfg.Timeout, Logger: logger, Lock: &c.mu,
		Reset: c.reset, Put: c.put, Delete: c.delete,
		ReloadFailed: func(err error) { logger.Warn("replica list: reload after a compaction failed", "err", err) },
	})
	return c
}

func (c *Cluster) root() string { return c.cfg.Prefix + "replica/" }

// Start registers this replica (a failure is retried by the heartbeat), reads every
// record and starts the watch and the heartbeat until Close.
func (c *Cluster) Start(ctx context.Context) error {
	c.heartbeat(ctx)
	lctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	if err := c.mirror.Load(lctx); err != nil {
		return err
	}
	c.mu.Lock()
	c.loaded, c.started = true, true
	c.mu.Unlock()
	c.mirror.Start(c.beat)
	return nil
}

// Close stops the watch and the heartbeat and revokes the lease, so that the other
// replicas drop this one at once.
func (c *Cluster) Close() error {
	c.mu.Lock()
	started := c.started
	c.mu.Unlock()
	if started {
		c.mirror.Stop()
	}
	c.mu.Lock()
	lease := c.lease
	c.mu.Unlock()
	if lease == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	_, err := c.cfg.Client.Revoke(ctx, lease)
	return err
}

// Members returns the replicas that have a replicaIndex, by index: this one as it is
// now, the others as their last record says (State Unknown while this one has lost
// etcd: their records may be stale).
func (c *Cluster) Members() []Member {
	self := c.now()
	c.mu.Lock()
	out := make([]Member, 0, len(c.members)+1)
	for name, m := range c.members {
		if name == self.Name {
			continue
		}
		if self.State != Up {
			m.State = Unknown
		}
		out = append(out, m)
	}
	c.mu.Unlock()
	out = append(out, self)
	out = slices.DeleteFunc(out, func(m Member) bool { return m.Index == 0 })
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.Index, b.Index) })
	return out
}

// now returns this replica's record as it would write it now.
func (c *Cluster) now() Member {
	c.mu.Lock()
	m, failing := c.self, c.failing
	c.mu.Unlock()
	m.Addresses = c.cfg.Addresses()
	m.State = Up
	if failing || c.cfg.Degraded() {
		m.State = Degraded
	}
	return m
}

// beat renews the record every third of the lease until ctx is done.
func (c *Cluster) beat(ctx context.Context) {
	tick := time.NewTicker(c.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			c.heartbeat(ctx)
		}
	}
}

// Renew writes this replica's record now, e.g. once its SNMP engine is bound: the
// heartbeat would only at its next tick.
func (c *Cluster) Renew(ctx context.Context) { c.heartbeat(ctx) }

// heartbeat keeps the lease alive (a new one when etcd forgot it) and writes the record.
func (c *Cluster) heartbeat(ctx context.Context) {
	c.beatMu.Lock()
	defer c.beatMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	c.mu.Lock()
	index := c.self.Index
	c.mu.Unlock()
	if index == 0 { // kept once allocated: the registry never releases a replica's
		index = c.cfg.Index()
		c.mu.Lock()
		c.self.Index = index
		c.mu.Unlock()
	}
	m := c.now()
	m.Heartbeat = time.Now()
	err := c.write(ctx, m)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err != nil && !c.failing:
		c.log.Warn("replica record not renewed: the other replicas drop this one when its lease expires",
			"replica", m.Name, "err", err)
	case err == nil && c.failing:
		c.log.Info("replica record renewed again", "replica", m.Name)
	}
	c.failing = err != nil
	if err == nil {
		c.self.Heartbeat = m.Heartbeat
	}
}

func (c *Cluster) write(ctx context.Context, m Member) error {
	c.mu.Lock()
	lease := c.lease
	c.mu.Unlock()
	if lease != 0 {
		if _, err := c.cfg.Client.KeepAliveOnce(ctx, lease); errors.Is(err, rpctypes.ErrLeaseNotFound) {
			lease = 0 // expired while etcd was away: register again
		} else if err != nil {
			return err
		}
	}
	if lease == 0 {
		l, err := c.cfg.Client.Grant(ctx, max(int64(c.ttl/time.Second), 1))
		if err != nil {
			return err
		}
		lease = l.ID
		c.mu.Lock()
		c.lease = lease
		c.mu.Unlock()
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = c.cfg.Client.Put(ctx, c.root()+m.Name, string(b), clientv3.WithLease(lease))
	return err
}

// The mirror's functions, under c.mu.

func (c *Cluster) reset() {
	if c.loaded {
		c.prev = c.members
	}
	c.members = map[string]Member{}
}

func (c *Cluster) put(kv *mvccpb.KeyValue) {
	name := strings.TrimPrefix(string(kv.Key), c.root())
	var m Member
	if err := json.Unmarshal(kv.Value, &m); err != nil || m.Name != name {
		c.log.Warn("replica list: record ignored", "key", string(kv.Key), "err", err)
		return
	}
	_, known := c.members[name]
	_, before := c.prev[name]
	c.members[name] = m
	if c.loaded && !known && !before && name != c.cfg.Replica && c.cfg.OnChange != nil {
		c.cfg.OnChange(m, true)
	}
}

func (c *Cluster) delete(kv *mvccpb.KeyValue) {
	name := strings.TrimPrefix(string(kv.Key), c.root())
	m, known := c.members[name]
	delete(c.members, name)
	delete(c.prev, name)
	if known && name != c.cfg.Replica && c.cfg.OnChange != nil {
		m.State = Unknown
		c.cfg.OnChange(m, false)
	}
}
