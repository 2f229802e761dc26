package gateway

import (
	"github.com/vmgate/vmgate/gateway/cluster"
	"github.com/vmgate/vmgate/gateway/control"
	"github.com/vmgate/vmgate/gateway/coord"
	"github.com/vmgate/vmgate/gateway/enables"
	"github.com/vmgate/vmgate/gateway/mibview"
	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/templates"
	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/gateway/web"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/snmp"
)

// Options tune a Gateway.
type Options struct {
	Version string // shown in sysDescr
	// ConfigPath is re-read, validated and applied on every value received on Reload
	// (main sends SIGHUP there). A config with problems is logged and not applied.
	ConfigPath string
	Reload     <-chan os.Signal

	coordOpts   []coord.Option   // tests shorten the lock lease
	clusterOpts []cluster.Option // and the replica record's
}

// Gateway is the running composition: the SNMP engine, the merged view with its index
// registry, and one supervisor per configured host.
type Gateway struct {
	logger  *slog.Logger
	opts    Options
	engine  *snmp.Engine
	reg     registry.Store
	coord   *coord.Etcd      // nil unless the registry is in etcd
	reps    *cluster.Cluster // nil unless the registry is in etcd
	mib     *mib.Handler     // the VIRTUAL-MACHINES-MIB, for the coordinator's Scope
	view    *view.View
	tpl     templates.Store // templates.dir and the current templates
	hosts   *hostSet
	notes   *notifier
	metrics *metrics
	web     *web.Server // nil unless http.listen is set
	reqs    chan reloadReq

	// enables are VM-MIB's notification enables (vm-mib.json in the state directory).
	enables *enables.File

	mu  sync.Mutex
	cfg *Config
}

type reloadReq struct {
	cfg  *Config
	done chan error
}

// Run builds a Gateway from a validated cfg and runs it until ctx is done (nil) or a
// part fails (its error: the SNMP port in use, state_dir unwritable...).
func Run(ctx context.Context, cfg *Config, logger *slog.Logger, opts Options) error {
	g, err := New(cfg, logger, opts)
	if err != nil {
		return err
	}
	return g.Run(ctx)
}

// New prepares everything that can fail before serving: state_dir, the engine's
// persistent state and the index registry. cfg must have passed Validate.
func New(cfg *Config, logger *slog.Logger, opts Options) (*Gateway, error) {
	if err := os.MkdirAll(cfg.SNMP.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("snmp.state_dir: %w", err)
	}
	reg, err := openRegistry(cfg, logger)
	if err != nil {
		return nil, err
	}
	g := &Gateway{logger: logger, opts: opts, reg: reg, cfg: cfg, reqs: make(chan reloadReq)}
	g.metrics = newMetrics(g)
	engineOpts := []snmp.Option{snmp.WithLogger(logger), snmp.WithVersion(opts.Version),
		snmp.WithSysObjectID(mib.AgentOID), snmp.WithObserver(g.metrics)}
	if etcd, ok := reg.(*registry.Etcd); ok {
		g.coord = newCoordinator(g, etcd)
		g.reps = newCluster(g, etcd)
		engineOpts = append(engineOpts, snmp.WithSetCoordinator(g.coord))
	}
	engine, err := snmp.New(cfg.SNMP, engineOpts...)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("snmp engine: %w", err), reg.Close())
	}
	view, err := view.New(reg, logger)
	if err != nil {
		return nil, errors.Join(err, reg.Close())
	}
	tpl, err := openTemplates(cfg, reg, logger)
	if err != nil {
		return nil, errors.Join(err, reg.Close())
	}
	en, err := enables.Open(cfg.SNMP.StateDir)
	if err != nil {
		return nil, errors.Join(err, tpl.Close(), reg.Close())
	}
	g.engine, g.view, g.tpl, g.enables = engine, view, tpl, en
	engine.SetContexts(hostNames(cfg.Hosts))
	registerMIB(g)
	g.hosts = newHostSet(newEventSink(view, g.notes, g.metrics), g.metrics.hostOptions, logger)
	if g.web, err = newWeb(g); err != nil {
		return nil, errors.Join(err, tpl.Close(), reg.Close())
	}
	return g, nil
}

// openRegistry opens the index registry the config names: the state directory's file
// (one gateway), or etcd (replicas), read whole before the gateway serves.
func openRegistry(cfg *Config, logger *slog.Logger) (registry.Store, error) {
	if cfg.Registry.Backend == BackendEtcd {
		logger.Info("index registry in etcd", "endpoints", cfg.Registry.Endpoints,
			"prefix", cfg.Registry.Prefix, "replica", cfg.Replica.Name)
		return registry.OpenEtcd(cfg.EtcdConfig(), logger)
	}
	return registry.OpenFile(filepath.Join(cfg.SNMP.StateDir, registry.FileName), logger)
}

// openTemplates opens the template store beside the registry: templates.dir and the
// state directory with the file registry, etcd (on the registry's client) with etcd.
func openTemplates(cfg *Config, reg registry.Store, logger *slog.Logger) (templates.Store, error) {
	e, ok := reg.(*registry.Etcd)
	if !ok {
		return templates.OpenFiles(cfg.Templates.Dir, cfg.SNMP.StateDir, reg, logger)
	}
	r := cfg.Registry
	return templates.OpenEtcd(templates.EtcdConfig{
		Client: e.Client(), Prefix: r.Prefix, Dir: cfg.Templates.Dir, StateDir: cfg.SNMP.StateDir,
		Replica: cfg.Replica.Name, DialTimeout: r.DialTimeout, Timeout: r.Timeout,
	}, reg, logger)
}

// ExportRegistry returns the registry the config names, file or etcd, in the form of
// indexes.json (`vmgate registry export`). It may run while gateways serve.
func ExportRegistry(cfg *Config, logger *slog.Logger) ([]byte, error) {
	reg, err := openRegistry(cfg, logger)
	if err != nil {
		return nil, err
	}
	data, err := reg.Export()
	return data, errors.Join(err, reg.Close())
}

// ImportRegistry loads data (an export, or a state directory's indexes.json) into the
// registry the config names, which must be empty (`vmgate registry import`): every
// index keeps its number.
func ImportRegistry(cfg *Config, logger *slog.Logger, data []byte) error {
	if cfg.Registry.Backend == BackendFile {
		if err := os.MkdirAll(cfg.SNMP.StateDir, 0o700); err != nil {
			return fmt.Errorf("snmp.state_dir: %w", err)
		}
	}
	reg, err := openRegistry(cfg, logger)
	if err != nil {
		return err
	}
	return errors.Join(reg.Import(data), reg.Close())
}

// newCoordinator returns the coordinator of g's SETs with the other replicas on etcd:
// the MIB handler says what a SET changes, the hosts' supervisors re-read what other
// replicas changed.
func newCoordinator(g *Gateway, reg *registry.Etcd) *coord.Etcd {
	cfg := g.cfg
	return coord.New(coord.Config{
		Client: reg.Client(), Prefix: cfg.Registry.Prefix, Replica: cfg.Replica.Name, Timeout: cfg.Registry.Timeout,
		Scope: func(r *snmp.Request, vars []snmp.SetVar) ([]string, bool) { return g.mib.SetScope(r, vars) },
		Refresh: func(ctx context.Context, host string, id hosts.UUID) error {
			sup, ok := g.Host(host)
			if !ok {
				return nil // not served here: nothing of it to re-read
			}
			return sup.Refresh(ctx, id)
		},
		Sync: reg.Sync,
	}, g.logger.With("component", "coord"), g.opts.coordOpts...)
}

// newCluster returns this replica's membership: its record, renewed while it runs,
// and the list of every replica for replicaTable and replicaChange.
func newCluster(g *Gateway, reg *registry.Etcd) *cluster.Cluster {
	cfg := g.cfg
	return cluster.New(cluster.Config{
		Client: reg.Client(), Prefix: cfg.Registry.Prefix, Replica: cfg.Replica.Name, Timeout: cfg.Registry.Timeout,
		Addresses: g.listenAddrs,
		Index:     func() uint32 { return reg.Index(registry.NSReplica, cfg.Replica.Name) },
		Degraded:  reg.Degraded,
		OnChange: func(m cluster.Member, _ bool) {
			g.notes.queueReplica(mibview.ReplicaRow(m))
		},
	}, g.logger.With("component", "cluster"), g.opts.clusterOpts...)
}

// listenAddrs returns the engine's addresses as transport:address:port; the configured
// ones until it is bound.
func (g *Gateway) listenAddrs() []string {
	addrs := g.engine.Addrs()
	if len(addrs) == 0 {
		return slices.Clone(g.Config().SNMP.Listen)
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.Network() + ":" + a.String()
	}
	return out
}

// registerMIB registers the VIRTUAL-MACHINES-MIB on g's engine: the tables read the
// view, the registry and the template store; SETs reach the hosts' supervisors
// through the executor.
func registerMIB(g *Gateway) {
	var copts []control.Option
	if g.coord != nil {
		copts = append(copts, control.WithTouch(g.coord.Touched))
	}
	exec := control.New(g.view, g.reg, g.tpl, g.Host, g.logger.With("component", "control"), copts...)
	vopts := []mibview.Option{mibview.WithAgent(g.opts.Version, time.Now())}
	if g.reps != nil {
		vopts = append(vopts, mibview.WithReplicas(g.reps))
	}
	g.notes = newNotifier(g.engine, g.view, g.reg, g.cfg.SNMP.NotifyQueue, func() int { return len(g.Config().SNMP.Notify) },
		g.logger.With("component", "notify"))
	if g.enables != nil {
		g.notes.enables = g.enables // VM-MIB's notifications follow its enables
	}
	adapter := mibview.New(g.view, g.reg, g.tpl, vopts...)
	h := mib.NewHandler(adapter, mib.WithLogger(g.logger.With("component", "mib")),
		mib.WithController(exec), mib.WithNotificationsDropped(g.notes.Dropped))
	g.notes.h = h
	g.notes.metrics = g.metrics
	g.engine.Register(mib.Root, h)
	g.engine.Register(mib.StdRoot, mib.NewStdHandler(adapter, g.enables,
		mib.WithLogger(g.logger.With("component", "vm-mib"))))
	g.mib = h
}

// Run serves until ctx is done; it returns nil then, or the first failure of the SNMP
// engine. Host supervisors never fail the gateway: a host down is a health state.
func (g *Gateway) Run(ctx context.Context) error {
	g.logConfig(g.Config())
	var err error
	if g.reps != nil {
		if err = g.reps.Start(ctx); err != nil {
			err = fmt.Errorf("replica list: etcd: %w", err)
		}
	}
	if err == nil {
		err = g.serve(ctx)
	}
	if g.reps != nil { // before the registry: it shares the registry's etcd client
		if cerr := g.reps.Close(); cerr != nil {
			g.logger.Warn("replica record not removed: it expires with its lease", "err", cerr)
		}
	}
	if g.coord != nil { // before the registry: it shares the registry's etcd client
		if cerr := g.coord.Close(); cerr != nil {
			g.logger.Warn("set locks not released: they expire with their lease", "err", cerr)
		}
	}
	_ = g.tpl.Close() // before the registry too, for the same reason
	if cerr := g.reg.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("index registry: %w", cerr))
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// serve runs the hosts' supervisors, the SNMP engine, the reloads and the
// notifications until ctx is done or one fails.
func (g *Gateway) serve(ctx context.Context) error {
	grp, ctx := errgroup.WithContext(ctx)
	cfg := g.Config()
	g.view.SetHosts(view.HostSpecs(cfg.Hosts))
	g.hosts.apply(ctx, grp, cfg.Hosts)
	grp.Go(func() error { return g.engine.Serve(ctx) }) // its errors say "snmp listen ..."
	grp.Go(func() error { g.reloadLoop(ctx, grp); return nil })
	grp.Go(func() error { g.notes.run(ctx); return nil })
	grp.Go(func() error { return g.serveWeb(ctx) }) // its errors say "http listen ..."
	if g.reps != nil {
		grp.Go(func() error { // the record shows the bound addresses from now on
			select {
			case <-g.engine.Ready():
				g.reps.Renew(ctx)
			case <-ctx.Done():
			}
			return nil
		})
	}
	err := grp.Wait()
	g.hosts.stopAll()
	return err
}

// Config returns the configuration in force.
func (g *Gateway) Config() *Config {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cfg
}

// Engine returns the SNMP engine (Addrs, Register).
func (g *Gateway) Engine() *snmp.Engine { return g.engine }

// View returns the merged view.
func (g *Gateway) View() *view.View { return g.view }

// Addrs returns the engine's bound addresses once it serves.
func (g *Gateway) Addrs() []net.Addr { return g.engine.Addrs() }

// Host returns the supervisor of a configured host, for control operations.
func (g *Gateway) Host(name string) (*hosts.Supervisor, bool) { return g.hosts.get(name) }

// Reload applies cfg, which must have passed Validate, while Run runs. On error the
// running configuration stays.
func (g *Gateway) Reload(ctx context.Context, cfg *Config) error {
	r := reloadReq{cfg: cfg, done: make(chan error, 1)}
	select {
	case g.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *Gateway) reloadLoop(ctx context.Context, grp *errgroup.Group) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-g.reqs:
			r.done <- g.apply(ctx, grp, r.cfg)
		case <-g.opts.Reload:
			g.reloadFile(ctx, grp)
		}
	}
}

// reloadFile is SIGHUP: load and validate the whole file first; any problem keeps the
// running configuration.
func (g *Gateway) reloadFile(ctx context.Context, grp *errgroup.Group) {
	g.logger.Info("reloading configuration", "file", g.opts.ConfigPath)
	cfg, err := LoadConfig(g.opts.ConfigPath)
	if err == nil {
		err = g.apply(ctx, grp, cfg)
	}
	if err == nil {
		return
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		for _, w := range ce.Warnings {
			g.logger.Warn("config: " + w)
		}
		for _, e := range ce.Errs {
			g.logger.Error("config problem", "file", ce.Path, "err", e)
		}
	} else {
		g.logger.Error("reload failed", "file", g.opts.ConfigPath, "err", err)
	}
	g.logger.Error("reload rejected: keeping the running configuration", "file", g.opts.ConfigPath)
}

// apply swaps in cfg: engine users/communities/sys*/notify, contexts, the view's host
// list, then the supervisors of added, removed and changed hosts.
func (g *Gateway) apply(ctx context.Context, grp *errgroup.Group, cfg *Config) error {
	old := g.Config()
	if !reflect.DeepEqual(old.Registry, cfg.Registry) || old.Replica != cfg.Replica {
		g.logger.Warn("config: registry and replica changes take effect at the next start")
	}
	if old.SNMP.NotifyQueue != cfg.SNMP.NotifyQueue {
		g.logger.Warn("config: snmp.notify_queue changes take effect at the next start",
			"running", old.SNMP.NotifyQueue, "configured", cfg.SNMP.NotifyQueue)
	}
	if oh, nh := old.HTTP, cfg.HTTP; oh.Listen != nh.Listen || oh.TLS != nh.TLS || !reflect.DeepEqual(oh.BasicAuthUsers, nh.BasicAuthUsers) {
		g.logger.Warn("config: http.listen, http.tls and http.basic_auth_users changes take effect at the next start")
	}
	g.engine.SetContexts(hostNames(cfg.Hosts))
	if err := g.engine.Reload(cfg.SNMP); err != nil {
		g.engine.SetContexts(hostNames(old.Hosts))
		return fmt.Errorf("snmp: %w", err)
	}
	g.view.SetHosts(view.HostSpecs(cfg.Hosts))
	added, removed, changed := g.hosts.apply(ctx, grp, cfg.Hosts)
	for _, name := range hostNames(old.Hosts) {
		if !slices.Contains(hostNames(cfg.Hosts), name) {
			g.metrics.forget(name)
		}
	}
	g.mu.Lock()
	g.cfg = cfg
	g.mu.Unlock()
	g.logConfig(cfg)
	g.logger.Info("configuration reloaded", "hosts", len(cfg.Hosts),
		"hosts_added", added, "hosts_removed", removed, "hosts_changed", changed)
	return nil
}

// logConfig logs cfg's warnings and, at debug level, the effective configuration with
// defaults applied (secrets marshal as <secret>).
func (g *Gateway) logConfig(cfg *Config) {
	for _, w := range cfg.Warnings {
		g.logger.Warn("config: " + w)
	}
	g.logger.Debug("effective configuration", "config", cfg)
}

func hostNames(hs []hosts.Config) []string {
	names := make([]string, len(hs))
	for i, h := range hs {
		names[i] = h.Name
	}
	return names
}

// Enables returns VM-MIB's notification enables (PerVM, Bulk), for the notifier.
func (g *Gateway) Enables() *enables.File { return g.enables }
