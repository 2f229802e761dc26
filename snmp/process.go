package snmp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"

	"github.com/gosnmp/gosnmp"
)

// Report OIDs (RFC 3414, RFC 3412, RFC 3413).
var (
	oidUnsupportedSecLevels = MustOID("1.3.6.1.6.3.15.1.1.1.0")
	oidNotInTimeWindows     = MustOID("1.3.6.1.6.3.15.1.1.2.0")
	oidUnknownUserNames     = MustOID("1.3.6.1.6.3.15.1.1.3.0")
	oidUnknownEngineIDs     = MustOID("1.3.6.1.6.3.15.1.1.4.0")
	oidWrongDigests         = MustOID("1.3.6.1.6.3.15.1.1.5.0")
	oidDecryptionErrors     = MustOID("1.3.6.1.6.3.15.1.1.6.0")
	oidUnknownContexts      = MustOID("1.3.6.1.6.3.12.1.5.0")
)

const timeWindow = 150 // seconds, RFC 3414 section 3.2 step 7

// handlePacket processes one incoming message and returns the bytes to send back, or
// nil. maxOut is what the transport can carry. It never panics.
func (e *Engine) handlePacket(ctx context.Context, raw []byte, from net.Addr, maxOut int) (out []byte) {
	defer func() {
		if r := recover(); r != nil {
			e.cnt.inASNParseErrs.Add(1)
			e.cnt.panics.Add(1)
			e.plog.Log(slog.LevelError, "snmp packet handling panicked", "from", addrString(from), "panic", fmt.Sprint(r),
				"stack", string(debug.Stack()))
			out = nil
		}
	}()
	e.cnt.inPkts.Add(1)
	m, err := parseMessage(raw)
	if err != nil {
		e.cnt.inASNParseErrs.Add(1)
		e.log.Debug("snmp message dropped: malformed", "from", addrString(from), "err", err)
		return nil
	}
	maxSize := min(e.maxSize, maxOut)
	switch m.version {
	case wireV1, wireV2c:
		out, err = e.handleCommunity(ctx, m, maxSize)
	case wireV3:
		out, err = e.handleV3(ctx, m, maxSize)
	default:
		e.cnt.inBadVersions.Add(1)
		e.log.Debug("snmp message dropped: bad version", "from", addrString(from), "version", m.version)
		return nil
	}
	if err != nil {
		e.log.Debug("snmp message dropped", "from", addrString(from), "err", err)
		return nil
	}
	return out
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

func isRequest(t gosnmp.PDUType) bool {
	switch t {
	case gosnmp.GetRequest, gosnmp.GetNextRequest, gosnmp.GetBulkRequest, gosnmp.SetRequest:
		return true
	}
	return false
}

func (e *Engine) handleCommunity(ctx context.Context, m *message, maxSize int) ([]byte, error) {
	sec := e.sec.Load()
	c, ok := sec.communities[string(m.community)]
	if !ok {
		e.cnt.inBadCommunityNames.Add(1)
		return nil, fmt.Errorf("unknown community (snmpInBadCommunityNames)")
	}
	p, err := parsePDU(m.pdu)
	if err != nil {
		e.cnt.inASNParseErrs.Add(1)
		return nil, err
	}
	v1 := m.version == wireV1
	if !isRequest(p.typ) || (v1 && p.typ == gosnmp.GetBulkRequest) {
		e.cnt.unknownPDUHandlers.Add(1)
		return nil, fmt.Errorf("PDU type %v not served", p.typ)
	}
	if !e.contextKnown(c.Context) {
		e.cnt.unknownContexts.Add(1)
		return nil, fmt.Errorf("community maps to unknown context %q", c.Context)
	}
	model := ModelV2c
	if v1 {
		model = ModelV1
	}
	r := &Request{Context: c.Context, Principal: Principal{Model: model, Name: c.Name, Access: c.Access}}
	wrap := func(p pduOut) ([]byte, error) { return wrapCommunity(m.version, m.community, p), nil }
	// Anyone can send a community with a forged source: keep the reflection small. A GET
	// of many varbinds may be answered in up to twice its own size (a GET's answer
	// echoes its OIDs; only GETBULK multiplies a small request).
	p.maxReps = min(p.maxReps, sec.communityMaxReps)
	return e.serve(ctx, r, p, v1, min(maxSize, max(sec.communityMaxSize, 2*len(m.raw))), wrap)
}

// handleV3 runs the USM checks of RFC 3414 section 3.2 in order, then access control
// and dispatch. Nothing unauthenticated or out of its time window reaches a handler.
func (e *Engine) handleV3(ctx context.Context, m *message, maxSize int) ([]byte, error) {
	if m.secModel != int64(ModelUSM) {
		e.cnt.unknownSecurityModels.Add(1)
		return nil, fmt.Errorf("security model %d (snmpUnknownSecurityModels)", m.secModel)
	}
	level := m.flags & (flagAuth | flagPriv)
	if level == flagPriv || m.maxSize < MinMaxMessageSize || m.maxSize > 2147483647 {
		e.cnt.invalidMsgs.Add(1)
		return nil, fmt.Errorf("flags 0x%02x, msgMaxSize %d (snmpInvalidMsgs)", m.flags, m.maxSize)
	}
	maxSize = min(maxSize, int(m.maxSize))
	rep := reporter{e: e, m: m, maxSize: maxSize}
	if string(m.usm.engineID) != string(e.engineID) {
		e.cnt.unknownEngineIDs.Add(1)
		return rep.send(oidUnknownEngineIDs, e.cnt.unknownEngineIDs.Load(), nil, 0)
	}
	u, ok := e.sec.Load().users[string(m.usm.user)]
	if !ok {
		e.cnt.unknownUserNames.Add(1)
		return rep.send(oidUnknownUserNames, e.cnt.unknownUserNames.Load(), nil, 0)
	}
	if level&^u.level() != 0 {
		e.cnt.unsupportedSecLevels.Add(1)
		return rep.send(oidUnsupportedSecLevels, e.cnt.unsupportedSecLevels.Load(), nil, 0)
	}
	if level&flagAuth != 0 {
		if !u.verifyDigest(m) {
			e.cnt.wrongDigests.Add(1)
			e.plog.Log(slog.LevelInfo, "snmp v3 authentication failed", "user", u.name)
			return rep.send(oidWrongDigests, e.cnt.wrongDigests.Load(), nil, 0)
		}
		if !e.inTimeWindow(m) {
			e.cnt.notInTimeWindows.Add(1)
			return rep.send(oidNotInTimeWindows, e.cnt.notInTimeWindows.Load(), u, flagAuth)
		}
	}
	scoped := m.scoped
	if level&flagPriv != 0 {
		var err error
		if m.encrypted == nil {
			err = fmt.Errorf("%w: priv flag on a plaintext scopedPDU", errDecrypt)
		} else {
			scoped, err = u.decrypt(m)
		}
		if err != nil {
			e.cnt.decryptionErrors.Add(1)
			e.plog.Log(slog.LevelInfo, "snmp v3 decryption failed", "user", u.name, "err", err)
			return rep.send(oidDecryptionErrors, e.cnt.decryptionErrors.Load(), nil, 0)
		}
	} else if scoped == nil {
		e.cnt.inASNParseErrs.Add(1)
		return nil, fmt.Errorf("encrypted scopedPDU without priv flag")
	}
	return e.serveV3(ctx, m, u, level, scoped, maxSize)
}

// inTimeWindow checks msgAuthoritativeEngineBoots/Time against ours.
func (e *Engine) inTimeWindow(m *message) bool {
	if e.boots >= maxBoots || m.usm.boots != int64(e.boots) {
		return false
	}
	d := m.usm.time - int64(e.engineTime())
	return d >= -timeWindow && d <= timeWindow
}

func (e *Engine) serveV3(ctx context.Context, m *message, u *usmUser, level byte, scoped []byte, maxSize int) ([]byte, error) {
	sp, err := parseScopedPDU(scoped)
	if err != nil {
		e.cnt.inASNParseErrs.Add(1)
		return nil, err
	}
	p, err := parsePDU(sp.pdu)
	if err != nil {
		e.cnt.inASNParseErrs.Add(1)
		return nil, err
	}
	rep := reporter{e: e, m: m, maxSize: maxSize, requestID: p.requestID, contextName: sp.contextName}
	if !isRequest(p.typ) {
		e.cnt.unknownPDUHandlers.Add(1)
		return nil, fmt.Errorf("PDU type %v not served (snmpUnknownPDUHandlers)", p.typ)
	}
	if len(sp.contextEngineID) != 0 && string(sp.contextEngineID) != string(e.engineID) {
		e.cnt.unknownPDUHandlers.Add(1)
		return nil, fmt.Errorf("contextEngineID %x is not ours (snmpUnknownPDUHandlers)", sp.contextEngineID)
	}
	if !e.contextKnown(sp.contextName) {
		e.cnt.unknownContexts.Add(1)
		return rep.send(oidUnknownContexts, e.cnt.unknownContexts.Load(), u, level)
	}
	out := v3out{msgID: m.msgID, level: level, user: u, contextName: sp.contextName}
	wrap := func(p pduOut) ([]byte, error) { return e.wrapV3(out, p) }
	// A user configured with authentication never gets data at a lower level, and a
	// user gets only the contexts listed for it (RFC 3415 noAccess).
	if level != u.level() || !u.contexts.allows(sp.contextName) {
		e.cnt.notAuthorized.Add(1)
		e.plog.Log(slog.LevelInfo, "snmp v3 request not authorized", "user", u.name, "context", sp.contextName)
		return e.observed(p, wrap, func(wrap wrapper) ([]byte, error) {
			return e.fit(p, response{status: gosnmp.AuthorizationError, index: 1, vars: p.vars}, false, maxSize, wrap)
		})
	}
	r := &Request{Context: sp.contextName, Principal: Principal{Model: ModelUSM, Name: u.name, Access: u.access,
		AllContexts: u.contexts.all}, msg: m}
	return e.serve(ctx, r, p, false, maxSize, wrap)
}

// reporter sends Report PDUs (RFC 3412 section 7.1 step 3) for one message.
type reporter struct {
	e           *Engine
	m           *message
	maxSize     int
	requestID   int32
	contextName string
}

// send builds a Report carrying the counter oid=value, at level with user's keys, or
// unauthenticated when user is nil. Only for messages flagged reportable.
func (r reporter) send(oid OID, value uint32, u *usmUser, level byte) ([]byte, error) {
	if r.m.flags&flagReportable == 0 {
		return nil, fmt.Errorf("report %s not sent: reportable flag clear", oid)
	}
	if u == nil {
		level = 0
	}
	// The request ID is only known when the scopedPDU was readable.
	reqID := r.requestID
	if reqID == 0 && r.m.scoped != nil {
		if sp, err := parseScopedPDU(r.m.scoped); err == nil {
			if p, err := parsePDU(sp.pdu); err == nil {
				reqID, r.contextName = p.requestID, sp.contextName
			}
		}
	}
	vbs, _, err := encodeVarBinds([]VarBind{{OID: oid, Type: gosnmp.Counter32, Value: value}})
	if err != nil {
		return nil, err
	}
	defer vbs.release()
	out := v3out{msgID: r.m.msgID, level: level, user: u, userName: r.m.usm.user, contextName: r.contextName}
	return r.e.wrapV3(out, pduOut{tag: gosnmp.Report, requestID: reqID, vbl: vbs.b})
}
