package snmp

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// A manager that gets no answer in time sends its SET again with the same request-id
// (net-snmp: 5 retries after 1 s by default; in SNMPv3 with a new msgID, so the answer
// to the first try is dropped). Running it again would start or create a VM twice, or
// answer inconsistentValue ("vmId 5 exists") to a SET that worked. The engine keeps
// the answers of recent SETs: a repeat of the same PDU from the same principal in the
// same context, within setReplayTTL, gets the first answer without running again. A
// repeat that arrives while the first still runs is dropped unanswered: waiting for
// the first would hold a reader of the socket per retry, and enough of them stall
// every read; the manager's next retry after the first run gets its answer (and an
// SNMPv2c manager takes the first run's answer, which carries the same request-id).
const (
	setReplayTTL = 30 * time.Second
	setReplayMax = 256 // answers kept at most
)

type setReplay struct {
	mu       sync.Mutex
	byKey    map[string]setAnswer
	order    []string // keys, oldest first
	inFlight map[string]bool
}

// begin marks the SET key as running; false when it runs already (a retry).
func (c *setReplay) begin(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inFlight[key] {
		return false
	}
	if c.inFlight == nil {
		c.inFlight = map[string]bool{}
	}
	c.inFlight[key] = true
	return true
}

// end clears begin's mark.
func (c *setReplay) end(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inFlight, key)
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

// lookup returns the answer to an earlier run of the SET key.
func (c *setReplay) lookup(key string, now time.Time) (response, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.byKey[key]
	if !ok || now.Sub(a.at) > setReplayTTL {
		return response{}, false
	}
	return a.resp, true
}

// store keeps resp as the answer to key (a deep copy: the request's buffers are reused).
func (c *setReplay) store(key string, resp response, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
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
