package snmp

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/gosnmp/gosnmp"
)

// response is the PDU part of a Response: error status, 1-based index, varbinds.
type response struct {
	status gosnmp.SNMPError
	index  int
	vars   []VarBind
}

// wrapper puts a response PDU into a whole message for the requester. It copies what
// it needs of the PDU's bytes.
type wrapper func(p pduOut) ([]byte, error)

// encode marshals a Response with the request's ID. A varbind a handler filled with a
// value that does not fit its type turns the response into genErr naming it.
func (e *Engine) encode(p *pdu, resp response, wrap wrapper) ([]byte, error) {
	vbs, bad, err := encodeVarBinds(resp.vars)
	if err != nil {
		e.log.Error("snmp response not encodable", "err", err)
		vbs, _, err = encodeVarBinds(p.vars)
		if err != nil {
			return nil, err
		}
		resp = response{status: gosnmp.GenErr, index: bad}
	}
	defer vbs.release()
	return wrap(pduOut{tag: gosnmp.GetResponse, requestID: p.requestID, status: resp.status, index: resp.index, vbl: vbs.b})
}

// serve runs one request PDU and returns the encoded response that fits in maxSize,
// or nil when nothing may be sent.
func (e *Engine) serve(ctx context.Context, r *Request, p *pdu, v1 bool, maxSize int, wrap wrapper) ([]byte, error) {
	return e.observed(p, wrap, func(wrap wrapper) ([]byte, error) { return e.serveOne(ctx, r, p, v1, maxSize, wrap) })
}

func (e *Engine) serveOne(ctx context.Context, r *Request, p *pdu, v1 bool, maxSize int, wrap wrapper) ([]byte, error) {
	if e.log.Enabled(ctx, slog.LevelDebug) {
		e.log.Debug("snmp request", "pdu", p.typ.String(), "request_id", p.requestID, "varbinds", len(p.vars),
			"context", r.Context, "principal", principalLabel(r.Principal), "model", int(r.Principal.Model))
	}
	var resp response
	switch p.typ {
	case gosnmp.GetRequest:
		resp = serveEach(ctx, r, p, v1, e.get)
	case gosnmp.GetNextRequest:
		resp = serveEach(ctx, r, p, v1, e.next)
	case gosnmp.GetBulkRequest:
		return e.serveBulk(ctx, r, p, maxSize, wrap)
	case gosnmp.SetRequest:
		var send bool
		if resp, send = e.serveSet(ctx, r, p, v1); !send {
			return nil, nil
		}
	default:
		return nil, fmt.Errorf("unsupported PDU type %v", p.typ)
	}
	if v1 && resp.status != gosnmp.NoError {
		resp.status = v1Status(resp.status)
		resp.vars = p.vars // RFC 1157: an error response echoes the request
	}
	return e.fit(p, resp, v1, maxSize, wrap)
}

// fit encodes resp, or tooBig when it exceeds maxSize; nil when not even that fits.
func (e *Engine) fit(p *pdu, resp response, v1 bool, maxSize int, wrap wrapper) ([]byte, error) {
	out, err := e.encode(p, resp, wrap)
	if err != nil {
		return nil, err
	}
	if len(out) <= maxSize {
		return out, nil
	}
	// RFC 3416 section 4.2.1: tooBig with an empty list (v1 echoes the request).
	tb := response{status: gosnmp.TooBig}
	if v1 {
		tb.vars = p.vars
	}
	out, err = e.encode(p, tb, wrap)
	if err != nil {
		return nil, err
	}
	if len(out) > maxSize {
		e.cnt.silentDrops.Add(1)
		return nil, nil
	}
	return out, nil
}

// serveEach answers each varbind with lookup (Engine.get or Engine.next); in SNMPv1 the
// first exception fails the whole PDU with noSuchName at its index.
func serveEach(ctx context.Context, r *Request, p *pdu, v1 bool, lookup func(context.Context, *Request, OID, bool) VarBind) response {
	out := make([]VarBind, len(p.vars))
	for i, vb := range p.vars {
		out[i] = lookup(ctx, r, vb.OID, v1)
		if v1 && isException(out[i].Type) {
			return response{status: gosnmp.NoSuchName, index: i + 1}
		}
	}
	return response{vars: out}
}

// maxBulkVars caps one GETBULK answer, whatever max-repetitions says.
const maxBulkVars = 4096

// serveBulk runs GETBULK (RFC 3416 section 4.2.3) and trims the answer to maxSize.
func (e *Engine) serveBulk(ctx context.Context, r *Request, p *pdu, maxSize int, wrap wrapper) ([]byte, error) {
	n := min(p.nonRepeaters, len(p.vars))
	reps := p.vars[n:]
	limit := min(maxBulkVars, maxSize/8) // no varbind encodes in fewer than ~8 bytes
	bp := bulkVars.Get().(*[]VarBind)
	out := (*bp)[:0]
	for _, vb := range p.vars[:min(n, limit)] {
		out = append(out, e.next(ctx, r, vb.OID, false))
	}
	last := make([]OID, len(reps))
	for i, vb := range reps {
		last[i] = vb.OID
	}
	// A repetition that does not fit whole is cut: the answer is the first varbinds
	// that fit (RFC 3416 section 4.2.3), whatever N, M and R are.
	for rep := 0; rep < p.maxReps && len(reps) > 0 && len(out) < limit; rep++ {
		ended := 0
		for i := range reps[:min(len(reps), limit-len(out))] {
			vb := e.next(ctx, r, last[i], false)
			if vb.Type == gosnmp.EndOfMibView {
				ended++
			} else {
				last[i] = vb.OID
			}
			out = append(out, vb)
		}
		if ended == len(reps) || ctx.Err() != nil {
			break
		}
	}
	vbs, _, err := encodeVarBinds(out)
	clear(out) // the pool must not keep the handlers' values alive
	if *bp = out[:0]; cap(out) <= maxBulkVars {
		bulkVars.Put(bp)
	}
	if err != nil {
		e.log.Error("snmp response not encodable", "err", err)
		return e.encode(p, response{status: gosnmp.GenErr, index: 1}, wrap)
	}
	defer vbs.release()
	return fitBulk(p.requestID, vbs, maxSize, wrap)
}

// bulkVars recycles the varbind lists GETBULK answers are collected in.
var bulkVars = sync.Pool{New: func() any { s := make([]VarBind, 0, 128); return &s }}

// fitBulk wraps the longest prefix of vbs that fits in maxSize; tooBig when not even
// one varbind fits.
func fitBulk(requestID int32, vbs *vbList, maxSize int, wrap wrapper) ([]byte, error) {
	build := func(k int) ([]byte, error) {
		return wrap(pduOut{tag: gosnmp.GetResponse, requestID: requestID, vbl: vbs.prefix(k)})
	}
	n := len(vbs.ends)
	full, err := build(n)
	if err != nil || len(full) <= maxSize {
		return full, err
	}
	var encErr error
	// sort.Search finds the smallest k whose encoding does not fit.
	k := sort.Search(n, func(k int) bool {
		b, err := build(k)
		if err != nil {
			encErr = err
			return true
		}
		return len(b) > maxSize
	})
	if encErr != nil {
		return nil, encErr
	}
	if k <= 1 {
		return wrap(pduOut{tag: gosnmp.GetResponse, requestID: requestID, status: gosnmp.TooBig})
	}
	return build(k - 1)
}
