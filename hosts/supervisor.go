package hosts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Supervisor holds the connection to one hypervisor: it connects, resyncs, follows
// events, polls counters, reconnects with backoff, and runs operations.
type Supervisor struct {
	cfg    Config
	uri    URI
	sink   Sink
	log    *slog.Logger
	dial   DialFunc
	minBO  time.Duration
	obs    CallObserver
	sinkMu sync.Mutex    // Sink calls are serialized and ordered
	view   chan struct{} // held while reading a domain and reporting it, so reports stay in order

	mu     sync.Mutex
	cur    *conn // nil unless Up
	health Health
	opened *conn     // the session's connection, for RPCs
	rpcs   uint64    // RPCs of the connections before it
	dirty  *dirtySet // the session's, nil between sessions

	volPaths atomic.Pointer[map[string]bool] // paths of pool volumes, from the last storage read
	storage0 storageState                    // the last storage read; under the view lock
	plans    addrPlans                       // how to ask for each domain's addresses
	sizesDue map[UUID]dueSizes               // sizes the last resync left (readDueSizes); under mu
	syncedAt time.Time                       // when the last resync ended; under mu
	gate     *SyncGate                       // nil: nothing waits for other hosts
	slots    *OpenSlots                      // nil: opens without waiting for others
	gateDone func()                          // the first resync attempt was made
	waits    opWaits                         // pauses and resumes waiting for their event
	opWait   time.Duration                   // how long they wait (WithOpEventWait)
}

// Option adjusts a Supervisor; for tests and special transports.
type Option func(*Supervisor)

// WithDialer replaces the dialer the URI's transport would use; the URI still decides
// which driver URI is opened.
func WithDialer(d DialFunc) Option { return func(s *Supervisor) { s.dial = d } }

// WithCallObserver has every libvirt call the supervisor makes measured by o.
func WithCallObserver(o CallObserver) Option { return func(s *Supervisor) { s.obs = o } }

// WithBackoffStart sets the first reconnect delay (default 500ms).
func WithBackoffStart(d time.Duration) Option { return func(s *Supervisor) { s.minBO = d } }

// New checks cfg (after SetDefaults on a copy) and prepares a Supervisor; Run starts it.
func New(cfg Config, sink Sink, logger *slog.Logger, opts ...Option) (*Supervisor, error) {
	if sink == nil {
		return nil, fmt.Errorf("host %q: nil Sink", cfg.Name)
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("host %q: %w", cfg.Name, err)
	}
	u, err := ParseURI(cfg.URI)
	if err != nil {
		return nil, fmt.Errorf("host %q: %w", cfg.Name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Supervisor{
		cfg: cfg, uri: u, sink: sink, log: logger.With("host", cfg.Name),
		minBO: 500 * time.Millisecond, opWait: opEventWait, view: make(chan struct{}, 1),
		health: Health{Status: Connecting, Since: time.Now()},
	}
	for _, o := range opts {
		o(s)
	}
	if s.dial == nil {
		if s.dial, err = newDialer(cfg, u, s.log); err != nil {
			return nil, fmt.Errorf("host %q: %w", cfg.Name, err)
		}
	}
	return s, nil
}

// Name is the host's configured name (its SNMP context).
func (s *Supervisor) Name() string { return s.cfg.Name }

// RPCs is how many libvirt calls (replies received) the supervisor's connections
// have had, ConnectOpen's included; a figure for benchmarks and tests.
func (s *Supervisor) RPCs() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.rpcs
	if s.opened != nil {
		n += s.opened.nc.replies()
	}
	return n
}

// Health is the connection's current health.
func (s *Supervisor) Health() Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health
}

// Run connects and keeps connecting until ctx is done; it then closes the connection
// and returns nil. Connection problems are reported through Health, not returned.
// Call it once.
func (s *Supervisor) Run(ctx context.Context) error {
	s.gateDone = s.gate.join()
	defer s.gateDone()
	s.emit(func() { s.sink.Health(s.cfg.Name, s.Health()) })
	r := retry{bo: backoff{min: s.minBO, max: s.cfg.BackoffMax}}
	for {
		wasUp, err := s.session(ctx)
		s.gateDone()
		if ctx.Err() != nil {
			return nil
		}
		wait, perm, news := r.failed(err, wasUp)
		attrs := []any{"err", err, "retry_in", wait.Round(time.Millisecond)}
		switch {
		case !perm:
			s.log.Warn("libvirt connection failed", attrs...)
		case news:
			// once per distinct error; the retries every backoff_max log at debug level
			s.log.Warn("libvirt connection failed", append(attrs, "permanent", true)...)
		default:
			s.log.Debug("libvirt connection failed", append(attrs, "permanent", true)...)
		}
		s.setDown(err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// session is one connection's life: connect, subscribe, resync, then serve events,
// stats and the watchdog until the connection ends or ctx is done.
func (s *Supervisor) session(ctx context.Context) (wasUp bool, err error) {
	c, err := openConn(ctx, s.dial, s.uri.DriverURI(), s.slots, s.cfg.ConnectTimeout, s.cfg.CallTimeout)
	if err != nil {
		return false, err
	}
	c.observe = s.obs
	s.mu.Lock()
	s.opened = c
	s.mu.Unlock()
	defer func() {
		c.kill(errors.New("session ended"))
		<-c.disconnected()
		s.mu.Lock()
		s.rpcs, s.opened = s.rpcs+c.nc.replies(), nil
		s.mu.Unlock()
	}()
	// The session's calls run on its goroutine (inline): its end ends them.
	ctx = withSession(ctx, c)
	defer context.AfterFunc(ctx, func() { c.kill(errors.New("session ended")) })()
	dirty := newDirtySet()
	s.mu.Lock()
	s.dirty = dirty
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.dirty = nil
		s.mu.Unlock()
	}()
	if err := s.subscribe(ctx, c, dirty); err != nil {
		return false, err
	}
	s.setConn(c)
	defer s.setConn(nil)
	if err := s.resync(ctx, c); err != nil {
		return false, fmt.Errorf("resync: %w", c.lost(err))
	}
	s.gateDone()
	defer sched.every(s.cfg.KeepaliveInterval, phaseOf(s.cfg.Name, s.cfg.KeepaliveInterval), (&watchdog{s: s, c: c}).tick)()
	if err := s.poll(ctx, c); connLost(err) {
		return true, c.lost(err)
	}
	lastPoll := time.Now()
	// Held at the gate, the first address round and the sizes run in a stats round as
	// soon as it opens, not a stats_interval later.
	var gateOpen <-chan struct{}
	if s.held(lastPoll) {
		gateOpen = s.gate.opened()
	}
	s.storage0.none = false // a new session may reach a daemon that has storage now
	// The polls fall on the host's phase of the interval: hosts that connected
	// together (a gateway's start) do not poll together.
	polls := make(chan struct{}, 1)
	defer sched.every(s.cfg.StatsInterval, phaseOf(s.cfg.Name, s.cfg.StatsInterval), func() {
		select {
		case polls <- struct{}{}:
		default:
		}
	})()
	for {
		select {
		case <-ctx.Done():
			return true, nil
		case <-c.disconnected():
			return true, c.closed()
		case <-dirty.ready():
			for id, whole := range dirty.take() {
				var err error
				if whole {
					err = s.refresh(ctx, c, id)
				} else {
					err = s.patch(ctx, c, id.handle(), FieldState)
				}
				if connLost(err) {
					return true, c.lost(err)
				}
			}
		case <-gateOpen:
			gateOpen = nil
			lastPoll = time.Now()
			if err := s.poll(ctx, c); connLost(err) {
				return true, c.lost(err)
			}
		case <-polls:
			if time.Since(lastPoll) < s.cfg.StatsInterval/2 { // the one after the resync's
				continue
			}
			lastPoll = time.Now()
			if err := s.poll(ctx, c); connLost(err) {
				return true, c.lost(err)
			}
			if !s.held(lastPoll) {
				gateOpen = nil // the hold's bound passed: this round did it
			}
			if err := s.watchStorage(ctx, c); connLost(err) {
				return true, c.lost(err)
			}
		}
	}
}

// poll is a stats round (pollStats) followed, once the gate lets it, by the reading of
// the sizes the resync left.
func (s *Supervisor) poll(ctx context.Context, c *conn) error {
	if _, err := s.pollStats(ctx, c); connLost(err) {
		return err
	}
	if s.held(time.Now()) {
		return nil
	}
	return s.readDueSizes(ctx, c)
}

// watchdog is the scheduler's job (tick) that probes the connection every
// keepalive_interval and kills it when a probe is not answered within
// keepalive_timeout, which makes every hung call return. An interval in which a reply
// came (a poll's, an operation's) needs no probe: the connection answered. A probe runs
// on a worker goroutine (probes) while it lasts; a probe still running when the next
// falls due stands for it.
type watchdog struct {
	s       *Supervisor
	c       *conn
	probing atomic.Bool
	heard   atomic.Uint64 // the replies read by the last tick, and the probe's answer
}

func (w *watchdog) tick() {
	if !w.probing.CompareAndSwap(false, true) {
		return
	}
	n := w.c.nc.replies()
	if n != w.heard.Load() {
		w.heard.Store(n)
		w.probing.Store(false)
		return
	}
	probes.run(func() {
		defer w.probing.Store(false)
		select {
		case <-w.c.disconnected():
			return
		default:
		}
		_, err := callWithin(context.Background(), w.c, w.s.cfg.KeepaliveTimeout, "keepalive", func(l *lv) (uint64, error) {
			return l.ConnectGetLibVersion()
		})
		if err != nil {
			w.s.log.Warn("keepalive failed, disconnecting", "err", err)
			w.c.kill(err)
			return
		}
		// Its own answer is not news at the next tick; the replies of other calls meanwhile
		// (a poll that fell due with the tick) are.
		w.heard.Store(n + 1)
	})
}

func (s *Supervisor) setConn(c *conn) {
	s.mu.Lock()
	s.cur = c
	s.mu.Unlock()
}

// conn returns the live connection or ErrNotConnected.
func (s *Supervisor) conn() (*conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return nil, fmt.Errorf("host %q: %w (%s)", s.cfg.Name, ErrNotConnected, s.health.Status)
	}
	return s.cur, nil
}

// emit serializes Sink calls.
func (s *Supervisor) emit(f func()) {
	s.sinkMu.Lock()
	defer s.sinkMu.Unlock()
	f()
}

func (s *Supervisor) setHealth(f func(h *Health)) {
	s.mu.Lock()
	old := s.health
	f(&s.health)
	h := s.health
	s.mu.Unlock()
	if h != old {
		s.emit(func() { s.sink.Health(s.cfg.Name, h) })
	}
}

// setDown keeps Since across retries while the host stays down.
func (s *Supervisor) setDown(err error) {
	msg := "disconnected"
	if err != nil {
		msg = err.Error()
	}
	s.setHealth(func(h *Health) {
		if h.Status != Down {
			h.Status, h.Since = Down, time.Now()
		}
		h.LastError = msg
	})
}

func (s *Supervisor) setUp(start time.Time, rpcs uint64) {
	now := time.Now()
	s.setHealth(func(h *Health) {
		h.Status, h.Since, h.LastError = Up, now, ""
		h.LastSync, h.LastSyncDuration, h.LastSyncRPCs = now, now.Sub(start), rpcs
	})
}

// backoff is jittered exponential: each wait is random in [d/2, d], d doubling to max.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) reset() { b.cur = 0 }

func (b *backoff) next() time.Duration {
	switch {
	case b.cur == 0:
		b.cur = b.min
	case b.cur < b.max:
		b.cur = min(b.cur*2, b.max)
	}
	half := b.cur / 2
	return half + rand.N(half+1)
}

// dirtySet collects the UUIDs events name, so a storm of events for one domain
// costs one re-read, and the event readers never block. A domain whose events changed
// only its state (a pause, a resume) needs only its state read again.
type dirtySet struct {
	mu  sync.Mutex
	ids map[UUID]bool // true: re-read the whole domain; false: its state only
	sig chan struct{}
}

func newDirtySet() *dirtySet {
	return &dirtySet{ids: map[UUID]bool{}, sig: make(chan struct{}, 1)}
}

// add marks id for a re-read of the whole domain.
func (d *dirtySet) add(id UUID) { d.mark(id, true) }

// addState marks id for a read of its state, unless it is marked for more.
func (d *dirtySet) addState(id UUID) { d.mark(id, false) }

func (d *dirtySet) mark(id UUID, whole bool) {
	d.mu.Lock()
	d.ids[id] = d.ids[id] || whole
	d.mu.Unlock()
	select {
	case d.sig <- struct{}{}:
	default:
	}
}

func (d *dirtySet) ready() <-chan struct{} { return d.sig }

// reading says a read of the whole of id starts, which covers the events marked so
// far: an operation's own event then costs no second read. The read calls done with
// what reading returned: a failed read gives the mark back, for the session to read
// again.
func (s *Supervisor) reading(id UUID) (done func(err error)) { return s.covering(id, true) }

// readingState is reading for a read of id's state: it covers only the marks of
// events that changed nothing else (addState).
func (s *Supervisor) readingState(id UUID) (done func(err error)) { return s.covering(id, false) }

// markState marks id's state to be read, on the current connection.
func (s *Supervisor) markState(id UUID) {
	s.mu.Lock()
	d := s.dirty
	s.mu.Unlock()
	if d != nil {
		d.addState(id)
	}
}

func (s *Supervisor) covering(id UUID, whole bool) (done func(err error)) {
	s.mu.Lock()
	d := s.dirty
	s.mu.Unlock()
	if d == nil {
		return func(error) {}
	}
	d.mu.Lock()
	w, had := d.ids[id]
	had = had && (whole || !w)
	if had {
		delete(d.ids, id)
	}
	d.mu.Unlock()
	return func(err error) {
		if err != nil && had {
			d.mark(id, w)
		}
	}
}

// take empties the set: each marked domain, true for a re-read of the whole domain.
func (d *dirtySet) take() map[UUID]bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.ids
	d.ids = map[UUID]bool{}
	return out
}
