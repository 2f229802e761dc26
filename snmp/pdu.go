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
// Each repeater's successors are collected in one pass (a Walker answers runs of
// them), then interleaved repetition by repetition.
func (e *Engine) serveBulk(ctx context.Context, r *Request, p *pdu, maxSize int, wrap wrapper) ([]byte, error) {
	n := min(p.nonRepeaters, len(p.vars))
	reps := p.vars[n:]
	limit := min(maxBulkVars, maxSize/8) // no varbind encodes in fewer than ~8 bytes
	vbs := vbLists.Get().(*vbList)
	defer vbs.release()
	for _, vb := range p.vars[:min(n, limit)] {
		if err := vbs.add(e.next(ctx, r, vb.OID, false)); err != nil {
			return e.bulkErr(p, err, wrap)
		}
	}
	room := limit - len(vbs.ends)
	if len(reps) > 0 && p.maxReps > 0 && room > 0 {
		st := newBulkState(min(len(reps), room))
		defer st.release()
		for i := range st.rps {
			// Repetition k holds repeater i while n+k*len(reps)+i < limit.
			max := min(p.maxReps, (room-i+len(reps)-1)/len(reps))
			if err := e.successors(ctx, r, &st.rps[i], reps[i].OID, max, &st.w); err != nil {
				return e.bulkErr(p, err, wrap)
			}
		}
		if err := interleave(vbs, st.rps, len(reps), p.maxReps, limit); err != nil {
			return e.bulkErr(p, err, wrap)
		}
	}
	return fitBulk(p.requestID, vbs, maxSize, wrap)
}

// bulkState is a GETBULK's scratch: the repeaters and the writer walkers write to,
// pooled with their buffers.
type bulkState struct {
	w   VarBindWriter
	rps []repeater
}

var bulkStates = sync.Pool{New: func() any { return new(bulkState) }}

// maxPooledRepeaters bounds the repeaters a pooled bulkState keeps.
const maxPooledRepeaters = 64

// newBulkState returns a pooled state with m repeaters, each with an empty sequence.
func newBulkState(m int) *bulkState {
	st := bulkStates.Get().(*bulkState)
	if cap(st.rps) < m {
		st.rps = append(st.rps[:cap(st.rps)], make([]repeater, m-cap(st.rps))...)
	}
	st.rps = st.rps[:m]
	for i := range st.rps {
		st.rps[i].seq = vbLists.Get().(*vbList)
	}
	return st
}

// release gives st back, without references to the request's or handlers' data.
func (st *bulkState) release() {
	for i := range st.rps {
		st.rps[i].seq.release()
		st.rps[i].seq, st.rps[i].last = nil, nil
	}
	st.w.l, st.w.prev, st.w.root, st.w.upper = nil, nil, nil, nil
	if len(st.rps) <= maxPooledRepeaters {
		st.rps = st.rps[:0]
		bulkStates.Put(st)
	}
}

// interleave appends the repetitions to l: repetition k is each repeater's k-th
// successor, or EndOfMibView after its last one, cut at limit varbinds; it stops after
// maxReps, or after a repetition in which every repeater has ended. A repetition that
// does not fit whole is cut (RFC 3416 section 4.2.3), whatever N, M and R are.
func interleave(l *vbList, rps []repeater, m, maxReps, limit int) error {
	for k := 0; k < maxReps && len(l.ends) < limit; k++ {
		ended := 0
		for i := range rps[:min(len(rps), limit-len(l.ends))] {
			if seq := rps[i].seq; k < len(seq.ends) {
				l.b = append(l.b, seq.element(k)...)
				l.ends = append(l.ends, len(l.b))
				continue
			}
			ended++
			if err := l.add(VarBind{OID: rps[i].last, Type: gosnmp.EndOfMibView}); err != nil {
				return err
			}
		}
		if ended == m {
			break
		}
	}
	return nil
}

// bulkErr answers genErr for a GETBULK whose answer could not be encoded.
func (e *Engine) bulkErr(p *pdu, err error, wrap wrapper) ([]byte, error) {
	e.log.Error("snmp response not encodable", "err", err)
	return e.encode(p, response{status: gosnmp.GenErr, index: 1}, wrap)
}

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
