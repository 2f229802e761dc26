package gateway

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vmgate/vmgate/hosts"
)

// hostSet runs one supervisor per configured host, each in the gateway's errgroup
// under its own cancel so a reload can stop one without touching the others.
type hostSet struct {
	sink   hosts.Sink
	opts   func(host string) []hosts.Option // each supervisor's options
	logger *slog.Logger
	gate   *hosts.SyncGate // the first address rounds wait for the other hosts' resyncs
	slots  *hosts.OpenSlots

	mu      sync.Mutex
	running map[string]*hostRun
}

// firstRoundHold bounds how long a host's first address round and its disk sizes wait
// for the other hosts' first resyncs (hosts.SyncGate).
const firstRoundHold = time.Minute

// openSlots is how many hosts open their connection at once (hosts.OpenSlots): a
// LAN host's open takes a few milliseconds, so 1,000 hosts open in well under a
// second, and a daemon serving many hosts answers each within connect_timeout.
const openSlots = 64

type hostRun struct {
	cfg    hosts.Config
	sup    *hosts.Supervisor
	cancel context.CancelFunc
	done   chan struct{}
}

func newHostSet(sink hosts.Sink, opts func(host string) []hosts.Option, logger *slog.Logger) *hostSet {
	return &hostSet{sink: sink, opts: opts, logger: logger, running: map[string]*hostRun{},
		gate: hosts.NewSyncGate(firstRoundHold), slots: hosts.NewOpenSlots(openSlots)}
}

// apply makes the running supervisors match cfgs: hosts no longer listed or whose
// config changed are stopped (and waited for), new and changed ones started.
func (s *hostSet) apply(ctx context.Context, grp *errgroup.Group, cfgs []hosts.Config) (added, removed, changed int) {
	want := make(map[string]hosts.Config, len(cfgs))
	for _, c := range cfgs {
		want[c.Name] = c
	}
	s.mu.Lock()
	var stop []*hostRun
	for name, r := range s.running {
		c, ok := want[name]
		switch {
		case !ok:
			removed++
		case !reflect.DeepEqual(c, r.cfg):
			changed++
		default:
			continue
		}
		stop = append(stop, r)
		delete(s.running, name)
	}
	s.mu.Unlock()
	for _, r := range stop {
		r.cancel()
		<-r.done
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cfgs {
		if _, ok := s.running[c.Name]; ok {
			continue
		}
		if s.start(ctx, grp, c) && !containsRun(stop, c.Name) {
			added++
		}
	}
	return added, removed, changed
}

// start launches c's supervisor; s.mu is held. A host that cannot even be set up is
// logged, not fatal: the others keep running.
func (s *hostSet) start(ctx context.Context, grp *errgroup.Group, c hosts.Config) bool {
	logger := s.logger.With("host", c.Name)
	opts := append(s.opts(c.Name), hosts.WithSyncGate(s.gate), hosts.WithOpenSlots(s.slots))
	sup, err := hosts.New(c, s.sink, s.logger, opts...) // it adds "host" itself
	if err != nil {
		logger.Error("host not started", "err", err)
		return false
	}
	hctx, cancel := context.WithCancel(ctx)
	r := &hostRun{cfg: c, sup: sup, cancel: cancel, done: make(chan struct{})}
	s.running[c.Name] = r
	grp.Go(func() error {
		defer close(r.done)
		defer cancel()
		if err := sup.Run(hctx); err != nil && hctx.Err() == nil {
			logger.Error("host supervisor stopped", "err", err)
		}
		return nil
	})
	return true
}

func containsRun(rs []*hostRun, name string) bool {
	for _, r := range rs {
		if r.cfg.Name == name {
			return true
		}
	}
	return false
}

func (s *hostSet) get(name string) (*hosts.Supervisor, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.running[name]
	if !ok {
		return nil, false
	}
	return r.sup, true
}

// stopAll cancels every supervisor and waits for them.
func (s *hostSet) stopAll() {
	s.mu.Lock()
	rs := s.running
	s.running = map[string]*hostRun{}
	s.mu.Unlock()
	for _, r := range rs {
		r.cancel()
		<-r.done
	}
}
