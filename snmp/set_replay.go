package snmp

import (
	"crypto/sha256"
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
//
// Answers are a convenience for retries; replay protection is the seen set: the
// digest of every authenticated SNMPv3 SET message is kept for as long as USM would
// accept the message (until its msgAuthoritativeEngineTime leaves the time window), so
// one captured and sent again never runs twice. It lives in memory only: engineBoots
// grows at each start, which puts every message of a previous run out of the window.
// Replicas share both through a SetCoordinator as well (set_coord.go).
// v1/v2c have no replay protection: their community travels in clear text anyway.
const (
	setReplayTTL = timeWindow * time.Second
	setReplayMax = 256 // answers kept at most
	// seenPerUser bounds the seen set per USM user. A user over it gets
	// resourceUnavailable until its oldest messages leave the window: forgetting them
	// instead would reopen the replay hole. Per user, so that one busy or hostile
	// principal does not block the SETs of the others.
	seenPerUser = 4096
)

// seenResult is what setReplay.see says about a message.
type seenResult int

const (
	seenFresh  seenResult = iota // not seen: recorded now
	seenBefore                   // a replay (or a duplicated datagram)
	seenFull                     // not seen, and no room to record it
)

// seenMsg is one recorded message: its user and the last engine time at which it is
// in the time window.
type seenMsg struct {
	user  string
	until int64
}

type setReplay struct {
	mu       sync.Mutex
	byKey    map[string]setAnswer
	order    []string // keys, oldest first
	inFlight map[string]bool

	seen    map[[sha256.Size]byte]seenMsg
	seenBy  map[string]int // entries of seen per user
	perUser int            // seenPerUser; tests lower it
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

// see records the authenticated SNMPv3 message m of user, received at engine time now,
// unless it was seen already or user's share of the set is full.
func (c *setReplay) see(m *message, user string, now int64) seenResult {
	d := sha256.Sum256(m.raw)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.seen[d]; ok {
		return seenBefore // still in its window: it was accepted at now
	}
	if c.seen == nil {
		c.seen, c.seenBy = map[[sha256.Size]byte]seenMsg{}, map[string]int{}
	}
	limit := c.perUser
	if limit == 0 {
		limit = seenPerUser
	}
	if c.seenBy[user] >= limit {
		c.forget(now)
		if c.seenBy[user] >= limit {
			return seenFull
		}
	}
	c.seen[d] = seenMsg{user: user, until: m.usm.time + timeWindow}
	c.seenBy[user]++
	return seenFresh
}

// forget drops the messages out of their window at engine time now. O(entries), run
// only when a user's share is full.
func (c *setReplay) forget(now int64) {
	for d, s := range c.seen {
		if s.until < now {
			delete(c.seen, d)
			if c.seenBy[s.user]--; c.seenBy[s.user] == 0 {
				delete(c.seenBy, s.user)
			}
		}
	}
}
