package snmp

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrConfig wraps configuration errors returned by New and Reload.
var ErrConfig = errors.New("invalid snmp configuration")

// counters are the statistics of RFC 3418, RFC 3412, RFC 3413 and RFC 3414.
type counters struct {
	inPkts, inBadVersions, inBadCommunityNames, inBadCommunityUses, inASNParseErrs atomic.Uint32
	silentDrops, proxyDrops                                                        atomic.Uint32
	unknownSecurityModels, invalidMsgs, unknownPDUHandlers                         atomic.Uint32
	unavailableContexts, unknownContexts                                           atomic.Uint32
	unsupportedSecLevels, notInTimeWindows, unknownUserNames                       atomic.Uint32
	unknownEngineIDs, wrongDigests, decryptionErrors                               atomic.Uint32
	panics                                                                         atomic.Uint32 // recovered in handlePacket: a bug
	notAuthorized                                                                  atomic.Uint32 // v3 level or context not allowed (no MIB counter)
}

// Engine is an SNMP agent: it owns the engine ID and boots, the transports and the
// registry of subtree handlers.
type Engine struct {
	log         *slog.Logger
	plog        *peerLog // lines remote peers cause, rate-limited
	version     string
	sysObjectID string
	engineID    []byte
	boots       uint32
	start       time.Time
	now         func() time.Time // time.Now; tests move it forward instead of sleeping
	listen      []string
	stateDir    string
	maxSize     int
	workers     int
	tcp         tcpLimits // defaultTCPLimits; tests shorten them

	sec      atomic.Pointer[security]
	contexts atomic.Pointer[map[string]bool]
	reg      registry
	cnt      counters
	setMu    sync.Mutex     // SET PDUs run one at a time
	replay   setReplay      // answers of recent SETs
	setsIn   atomic.Int32   // SETs running or waiting for setMu (setsMax)
	coord    SetCoordinator // nil: SETs coordinate with this engine only
	obs      Observer       // nil: requests are not measured
	salt     atomic.Uint64
	informs  informPeers   // what inform receivers' discoveries taught
	notifyTO time.Duration // per try of a notification (notifyTimeout; tests shorten it)

	served atomic.Bool
	mu     sync.Mutex
	addrs  []net.Addr
	ready  chan struct{}
}

// Option configures an Engine.
type Option func(*Engine)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(e *Engine) {
		if l != nil {
			e.log = l
		}
	}
}

// WithVersion sets the version shown in sysDescr.
func WithVersion(v string) Option { return func(e *Engine) { e.version = v } }

// WithSysObjectID sets sysObjectID.0 (default DefaultSysObjectID).
func WithSysObjectID(oid OID) Option { return func(e *Engine) { e.sysObjectID = oid.String() } }

// New validates cfg, loads or creates the engine ID in cfg.StateDir and persists
// engineBoots+1. The built-in MIBs are registered; Serve starts the transports.
func New(cfg Config, opts ...Option) (*Engine, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	e := &Engine{
		log:         slog.New(slog.DiscardHandler),
		version:     "dev",
		sysObjectID: DefaultSysObjectID,
		start:       time.Now(),
		now:         time.Now,
		notifyTO:    notifyTimeout,
		listen:      slices.Clone(cfg.Listen),
		stateDir:    cfg.StateDir,
		maxSize:     cfg.MaxMessageSize,
		workers:     cfg.Workers,
		tcp:         defaultTCPLimits,
		ready:       make(chan struct{}),
	}
	for _, o := range opts {
		o(e)
	}
	e.plog = newPeerLog(e.log)
	id, boots, err := loadState(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	e.engineID, e.boots = id, boots
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	e.salt.Store(binary.BigEndian.Uint64(seed[:]))
	sec, err := newSecurity(cfg, id)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	e.sec.Store(sec)
	e.registerBuiltins()
	e.log.Info("snmp engine ready", "engine_id", fmt.Sprintf("%x", id), "engine_boots", boots,
		"users", len(cfg.Users), "communities", len(cfg.Communities))
	return e, nil
}

// EngineID returns snmpEngineID.
func (e *Engine) EngineID() []byte { return slices.Clone(e.engineID) }

// Boots returns snmpEngineBoots of this run.
func (e *Engine) Boots() uint32 { return e.boots }

// engineTime is snmpEngineTime: seconds since this run started.
func (e *Engine) engineTime() uint32 { return uint32(e.now().Sub(e.start) / time.Second) }

// Register serves the subtree at root with h, replacing any handler on that exact
// root. Safe at any time; requests in flight keep the registry they started with.
func (e *Engine) Register(root OID, h Handler) { e.reg.register(root, h) }

// Unregister removes the handler on root.
func (e *Engine) Unregister(root OID) { e.reg.unregister(root) }

// SetContexts sets the valid host contexts besides "" (the merged cluster).
func (e *Engine) SetContexts(names []string) {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	e.contexts.Store(&m)
}

// Reload swaps communities, users, sys* and notification targets atomically. Listen,
// state_dir, workers and max_message_size need a restart; changes to them are logged.
func (e *Engine) Reload(cfg Config) error {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	sec, err := newSecurity(cfg, e.engineID)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if !slices.Equal(cfg.Listen, e.listen) || cfg.StateDir != e.stateDir ||
		cfg.MaxMessageSize != e.maxSize || cfg.Workers != e.workers {
		e.log.Warn("snmp listen, state_dir, workers or max_message_size changed: takes effect after a restart")
	}
	e.sec.Store(sec)
	e.informs.reset() // the old users' keys go with them
	e.log.Info("snmp configuration reloaded", "users", len(cfg.Users), "communities", len(cfg.Communities),
		"notify_targets", len(cfg.Notify))
	return nil
}

// Ready is closed once Serve has bound every listen address.
func (e *Engine) Ready() <-chan struct{} { return e.ready }

// Addrs returns the bound addresses once serving (nil before), e.g. for port 0.
func (e *Engine) Addrs() []net.Addr {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.addrs)
}
