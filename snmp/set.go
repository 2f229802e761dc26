package snmp

import (
	"context"
	"errors"
	"log/slog"

	"github.com/gosnmp/gosnmp"
)

// setGroup is the varbinds of one SET that fall in one handler's subtree.
type setGroup struct {
	s    Setter
	root OID
	vars []SetVar
}

// serveSet runs a SET in two phases (RFC 3416 section 4.2.5): TestSet on every
// handler, then CommitSet on each. SETs are serialized. It says false when nothing may
// be answered (a retry of a SET in progress, see setReplay).
func (e *Engine) serveSet(ctx context.Context, r *Request, p *pdu, v1 bool) (response, bool) {
	if r.Principal.Access != ReadWrite {
		if r.Principal.Model != ModelUSM {
			e.cnt.inBadCommunityUses.Add(1)
		}
		return response{status: gosnmp.NoAccess, index: 1, vars: p.vars}, true
	}
	es := e.reg.load()
	var groups []*setGroup
	byRoot := map[int]*setGroup{}
	for i, vb := range p.vars {
		if v1 && vb.Type == gosnmp.Counter64 {
			return response{status: gosnmp.BadValue, index: i + 1, vars: p.vars}, true
		}
		h, _, _ := find(es, vb.OID)
		var s Setter
		if h >= 0 {
			s, _ = es[h].h.(Setter)
		}
		if s == nil {
			return response{status: gosnmp.NotWritable, index: i + 1, vars: p.vars}, true
		}
		g := byRoot[h]
		if g == nil {
			g = &setGroup{s: s, root: es[h].root}
			byRoot[h] = g
			groups = append(groups, g)
		}
		g.vars = append(g.vars, SetVar{Index: i + 1, VarBind: vb})
	}
	key := setKey(r, p)
	if !e.replay.begin(key) {
		e.log.Info("snmp set repeated while the first still runs: not answered", "context", r.Context,
			"principal", principalLabel(r.Principal), "request_id", p.requestID)
		return response{}, false
	}
	defer e.replay.end(key)
	// Every SET waiting for the lock holds a reader of its socket; at most half the
	// readers may, so that reads go on while SETs queue behind a slow one. One beyond
	// that is dropped unanswered: the manager retries.
	if n := e.setsIn.Add(1); n > e.setsMax() {
		e.setsIn.Add(-1)
		e.log.Warn("snmp set not answered: too many SETs waiting", "waiting", n-1, "context", r.Context,
			"principal", principalLabel(r.Principal), "request_id", p.requestID)
		return response{}, false
	}
	defer e.setsIn.Add(-1)
	e.setMu.Lock()
	defer e.setMu.Unlock()
	now := e.now()
	if r.msg != nil && r.msg.flags&flagAuth != 0 {
		switch e.replay.see(r.msg, r.Principal.Name, int64(e.engineTime())) {
		case seenBefore:
			if resp, ok := e.replay.lookup(key, now); ok {
				return resp, true // a duplicated datagram: its answer is no news
			}
			e.plog.Log(slog.LevelWarn, "snmp set message replayed: not run, not answered", "context", r.Context,
				"principal", principalLabel(r.Principal), "request_id", p.requestID)
			return response{}, false
		case seenFull:
			e.log.Warn("snmp set refused: too many SET messages of this user in the time window",
				"context", r.Context, "principal", principalLabel(r.Principal), "limit", seenPerUser)
			return response{status: gosnmp.ResourceUnavailable, index: 1, vars: p.vars}, true
		}
	}
	if resp, ok := e.replay.lookup(key, now); ok {
		e.log.Info("snmp set repeated: answered as the first time, not run again", "context", r.Context,
			"principal", principalLabel(r.Principal), "request_id", p.requestID)
		return resp, true
	}
	if e.coord != nil {
		return e.runCoordinated(ctx, r, p, groups, key)
	}
	resp := e.runSet(ctx, r, p, groups, nil)
	e.replay.store(key, resp, now)
	return resp, true
}

// setsMax is how many SETs may run or wait at once: half the readers of a socket.
func (e *Engine) setsMax() int32 { return int32(max(1, e.workers/2)) }

// runSet tests then commits the groups of one SET; between the two, fence (when not
// nil) may refuse the commit with its answer.
func (e *Engine) runSet(ctx context.Context, r *Request, p *pdu, groups []*setGroup,
	fence func(context.Context) (response, bool)) response {
	echo := response{vars: p.vars}
	for _, g := range groups {
		if err := g.s.TestSet(ctx, r, g.vars); err != nil {
			return e.setFailed(r, g, err, gosnmp.GenErr, p.vars)
		}
	}
	if fence != nil {
		if resp, ok := fence(ctx); !ok {
			return resp
		}
	}
	for i, g := range groups {
		if err := g.s.CommitSet(ctx, r, g.vars); err != nil {
			// Earlier groups are applied and there is no undo across handlers.
			def := gosnmp.CommitFailed
			if i > 0 {
				def = gosnmp.UndoFailed
			}
			resp := e.setFailed(r, g, err, def, p.vars)
			if i > 0 && resp.status == gosnmp.CommitFailed {
				resp.status = gosnmp.UndoFailed
			}
			return resp
		}
	}
	return echo
}

// setFailed turns a TestSet/CommitSet error into a response and logs it.
func (e *Engine) setFailed(r *Request, g *setGroup, err error, def gosnmp.SNMPError, vars []VarBind) response {
	resp := response{status: def, index: g.vars[0].Index, vars: vars}
	var se *SetError
	if errors.As(err, &se) {
		if se.Status != gosnmp.NoError {
			resp.status = se.Status
		}
		if se.Index >= 1 && se.Index <= len(vars) {
			resp.index = se.Index
		}
	}
	e.log.Info("snmp set refused", "context", r.Context, "principal", principalLabel(r.Principal),
		"subtree", g.root.String(), "status", resp.status.String(), "index", resp.index, "err", err)
	return resp
}

// principalLabel names a principal for logs: Name is never a secret.
func principalLabel(p Principal) string { return p.Name }
