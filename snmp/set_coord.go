package snmp

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gosnmp/gosnmp"
)

// SetCoordinator coordinates the SETs of engines that serve the same agents (replicas
// of one gateway): each SET runs under the locks Lock takes, and the replay record
// (messages seen, answers of SETs run) is shared, so that a SET retried on another
// engine after a failover, or a captured message sent to another engine, never runs
// twice. Without one (the default) an engine coordinates with itself only.
type SetCoordinator interface {
	// Lock takes what the SET vars in r's context needs before it is tested; release
	// gives it back after the answer is stored. An error means the SET cannot run now.
	Lock(ctx context.Context, r *Request, vars []SetVar) (release func(), err error)
	// Held returns why the locks Lock took for the running SET are no longer this
	// engine's (its lease expired while etcd was away: another engine may hold them
	// now), nil while they are. Called after the TEST phase, before any commit.
	Held(ctx context.Context) error
	// Seen records the digest of an authenticated SET message of user for ttl; false
	// when any engine recorded it already.
	Seen(ctx context.Context, user string, digest [sha256.Size]byte, ttl time.Duration) (fresh bool, err error)
	// Answer returns the answer any engine stored under key.
	Answer(ctx context.Context, key [sha256.Size]byte) (answer []byte, ok bool, err error)
	// StoreAnswer keeps answer under key for ttl.
	StoreAnswer(ctx context.Context, key [sha256.Size]byte, answer []byte, ttl time.Duration) error
}

// WithSetCoordinator makes c coordinate this engine's SETs with other engines.
func WithSetCoordinator(c SetCoordinator) Option { return func(e *Engine) { e.coord = c } }

// errReplayed: another engine recorded the message (SetCoordinator.Seen).
var errReplayed = errors.New("message seen by another engine")

// seenTTL is how long another engine keeps a message's digest: a message accepted at
// the edge of the time window stays acceptable for two windows.
const seenTTL = 2 * timeWindow * time.Second

// runCoordinated runs a SET under the coordinator's locks, unless another engine ran
// it already (its answer) or the message was seen by another engine (a replay: not
// answered). Without the coordinator nothing runs: resourceUnavailable.
func (e *Engine) runCoordinated(ctx context.Context, r *Request, p *pdu, groups []*setGroup, key string) (response, bool) {
	unavailable := func(err error) (response, bool) {
		e.plog.Log(slog.LevelError, "snmp set refused: its replicas cannot coordinate (etcd)", "context", r.Context,
			"principal", principalLabel(r.Principal), "request_id", p.requestID, "err", err)
		return response{status: gosnmp.ResourceUnavailable, index: 1, vars: p.vars}, true
	}
	// The message is recorded while the locks are taken: two etcd round trips at once.
	// A replay gives back the locks it took for nothing.
	seen := make(chan error, 1)
	if r.msg != nil && r.msg.flags&flagAuth != 0 {
		go func() {
			fresh, err := e.coord.Seen(ctx, r.Principal.Name, sha256.Sum256(r.msg.raw), seenTTL)
			if err == nil && !fresh {
				err = errReplayed
			}
			seen <- err
		}()
	} else {
		seen <- nil
	}
	var vars []SetVar
	for _, g := range groups {
		vars = append(vars, g.vars...)
	}
	release, err := e.coord.Lock(ctx, r, vars)
	if serr := <-seen; serr != nil {
		if err == nil {
			release()
		}
		if errors.Is(serr, errReplayed) {
			e.plog.Log(slog.LevelWarn, "snmp set message replayed to another replica: not run", "context", r.Context,
				"principal", principalLabel(r.Principal), "request_id", p.requestID)
			return response{}, false
		}
		return unavailable(serr)
	}
	if err != nil {
		return unavailable(err)
	}
	defer release()
	sum := sha256.Sum256([]byte(key))
	if a, ok, err := e.coord.Answer(ctx, sum); err != nil {
		return unavailable(err)
	} else if ok {
		if resp, ok := decodeAnswer(a, p.vars); ok {
			e.log.Info("snmp set repeated: another replica ran it, its answer given", "context", r.Context,
				"principal", principalLabel(r.Principal), "request_id", p.requestID)
			return resp, true
		}
	}
	fenced := false
	resp := e.runSet(ctx, r, p, groups, func(ctx context.Context) (response, bool) {
		if err := e.coord.Held(ctx); err != nil {
			fenced = true
			resp, _ := unavailable(err)
			return resp, false
		}
		return response{}, true
	})
	if fenced {
		return resp, true // nothing ran: a retry may run it
	}
	e.replay.store(key, resp, e.now())
	if err := e.coord.StoreAnswer(ctx, sum, encodeAnswer(resp), setReplayTTL); err != nil {
		e.plog.Log(slog.LevelWarn, "snmp set answer not shared with the other replicas (etcd): a retry there runs it again",
			"context", r.Context, "principal", principalLabel(r.Principal), "request_id", p.requestID, "err", err)
	}
	return resp, true
}

// encodeAnswer keeps what a SET's answer says beyond the PDU's own varbinds, which the
// answer echoes and the key holds: the error status and index.
func encodeAnswer(resp response) []byte { return fmt.Appendf(nil, "%d %d", resp.status, resp.index) }

func decodeAnswer(b []byte, vars []VarBind) (response, bool) {
	var status, index int
	if _, err := fmt.Sscanf(string(b), "%d %d", &status, &index); err != nil ||
		status < 0 || status > int(gosnmp.InconsistentName) || index < 0 || index > len(vars) {
		return response{}, false
	}
	return response{status: gosnmp.SNMPError(status), index: index, vars: vars}, true
}
