package snmp

import (
	"fmt"
	"strings"
	"time"
)

// A manager that gets no answer in time sends its SET again with the same request-id
// (net-snmp: 5 retries after 1 s by default; in SNMPv3 with a new msgID, so the answer
// to the first try is dropped). Running it again would start or create a VM twice, or
// answer inconsistentValue ("vmId 5 exists") to a SET that worked. The engine keeps
// the answers of recent SETs: a repeat of the same PDU from the same principal in the
// same context, within setReplayTTL, gets the first answer without running again.
// SETs are serialized, so a repeat that arrives while the first still runs waits for
// it and finds its answer.
const (
	setReplayTTL = 30 * time.Second
	setReplayMax = 256 // answers kept at most
)

type setReplay struct {
	byKey map[string]setAnswer
	order []string // keys, oldest first
}

type setAnswer struct {
	at   time.Time
	resp response
}

// setKey identifies a SET PDU: who sent it, where, its request-id and its varbinds.
func setKey(r *Request, p *pdu) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\x00%s\x00%s\x00%d", r.Principal.Model, r.Principal.Name, r.Context, p.requestID)
	for _, vb := range p.vars {
		fmt.Fprintf(&b, "\x00%s\x00%d\x00%v", vb.OID, vb.Type, vb.Value)
	}
	return b.String()
}

// lookup returns the answer to an earlier run of the SET key. Callers hold e.setMu.
func (c *setReplay) lookup(key string, now time.Time) (response, bool) {
	a, ok := c.byKey[key]
	if !ok || now.Sub(a.at) > setReplayTTL {
		return response{}, false
	}
	return a.resp, true
}

// store keeps resp as the answer to key (a deep copy: the request's buffers are reused).
// Callers hold e.setMu.
func (c *setReplay) store(key string, resp response, now time.Time) {
	if c.byKey == nil {
		c.byKey = map[string]setAnswer{}
	}
	for len(c.order) > 0 && (len(c.order) >= setReplayMax || now.Sub(c.byKey[c.order[0]].at) > setReplayTTL) {
		delete(c.byKey, c.order[0])
		c.order = c.order[1:]
	}
	if _, dup := c.byKey[key]; !dup {
		c.order = append(c.order, key)
	}
	c.byKey[key] = setAnswer{at: now, resp: response{status: resp.status, index: resp.index, vars: cloneVars(resp.vars)}}
}

func cloneVars(vars []VarBind) []VarBind {
	out := make([]VarBind, len(vars))
	for i, vb := range vars {
		out[i] = VarBind{OID: append(OID(nil), vb.OID...), Type: vb.Type, Value: vb.Value}
		if b, ok := vb.Value.([]byte); ok {
			out[i].Value = append([]byte(nil), b...)
		}
	}
	return out
}
