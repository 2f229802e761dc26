package snmp

import (
	"fmt"
	"math"

	"github.com/gosnmp/gosnmp"
)

// SNMP versions on the wire.
const (
	wireV1  = 0
	wireV2c = 1
	wireV3  = 3
)

// msgFlags bits (RFC 3412).
const (
	flagAuth       = 0x01
	flagPriv       = 0x02
	flagReportable = 0x04
)

// message is an incoming SNMP message, split but not yet authenticated.
type message struct {
	raw       []byte
	version   int64
	community []byte // v1/v2c
	pdu       []byte // v1/v2c: the PDU element

	// v3
	msgID     int64
	maxSize   int64
	flags     byte
	secModel  int64
	usm       usmHeader
	scoped    []byte // plaintext scopedPDU element, or nil when encrypted
	encrypted []byte // encrypted scopedPDU contents
}

// usmHeader is UsmSecurityParameters as sent (RFC 3414 section 2.4).
type usmHeader struct {
	engineID   []byte
	boots      int64
	time       int64
	user       []byte
	authParams []byte
	authOff    int // offset of authParams' contents in message.raw
	privParams []byte
}

// parseMessage splits an incoming message. It checks structure only.
func parseMessage(raw []byte) (*message, error) {
	top := &berReader{buf: raw}
	seq, err := top.expect(0x30, "message")
	if err != nil {
		return nil, err
	}
	if seq.end != len(raw) {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBER, len(raw)-seq.end)
	}
	r := sub(seq)
	m := &message{raw: raw}
	if m.version, err = r.integer("version"); err != nil {
		return nil, err
	}
	switch m.version {
	case wireV1, wireV2c:
		if m.community, err = r.octets("community"); err != nil {
			return nil, err
		}
		p, err := r.next()
		if err != nil {
			return nil, fmt.Errorf("pdu: %w", err)
		}
		m.pdu = raw[seq.valStart+p.start : seq.valStart+p.end]
		return m, nil
	case wireV3:
		return m, m.parseV3(r, seq.valStart)
	}
	return m, nil // unknown version: the caller counts snmpInBadVersions
}

func (m *message) parseV3(r *berReader, base int) error {
	hdr, err := r.expect(0x30, "msgGlobalData")
	if err != nil {
		return err
	}
	h := sub(hdr)
	if m.msgID, err = h.integer("msgID"); err != nil {
		return err
	}
	if m.maxSize, err = h.integer("msgMaxSize"); err != nil {
		return err
	}
	flags, err := h.octets("msgFlags")
	if err != nil {
		return err
	}
	if len(flags) != 1 {
		return fmt.Errorf("%w: msgFlags of %d bytes", errBER, len(flags))
	}
	m.flags = flags[0]
	if m.secModel, err = h.integer("msgSecurityModel"); err != nil {
		return err
	}
	sp, err := r.expect(0x04, "msgSecurityParameters")
	if err != nil {
		return err
	}
	if m.secModel == int64(ModelUSM) {
		if err := m.usm.parse(sp, base); err != nil {
			return err
		}
	}
	data, err := r.next()
	if err != nil {
		return fmt.Errorf("msgData: %w", err)
	}
	switch data.tag {
	case 0x30:
		m.scoped = m.raw[base+data.start : base+data.end]
	case 0x04:
		m.encrypted = data.value
	default:
		return fmt.Errorf("%w: msgData tag 0x%02x", errBER, data.tag)
	}
	return nil
}

// parse reads the USM parameters inside the msgSecurityParameters octet string sp,
// which starts base bytes into the raw message.
func (u *usmHeader) parse(sp tlv, base int) error {
	r := sub(sp)
	seq, err := r.expect(0x30, "UsmSecurityParameters")
	if err != nil {
		return err
	}
	s := sub(seq)
	if u.engineID, err = s.octets("msgAuthoritativeEngineID"); err != nil {
		return err
	}
	if u.boots, err = s.integer("msgAuthoritativeEngineBoots"); err != nil {
		return err
	}
	if u.time, err = s.integer("msgAuthoritativeEngineTime"); err != nil {
		return err
	}
	if u.user, err = s.octets("msgUserName"); err != nil {
		return err
	}
	ap, err := s.expect(0x04, "msgAuthenticationParameters")
	if err != nil {
		return err
	}
	u.authParams = ap.value
	u.authOff = base + sp.valStart + seq.valStart + ap.valStart
	if u.privParams, err = s.octets("msgPrivacyParameters"); err != nil {
		return err
	}
	return nil
}

// scopedPDU is a decoded ScopedPDU (RFC 3412).
type scopedPDU struct {
	contextEngineID []byte
	contextName     string
	pdu             []byte
}

func parseScopedPDU(b []byte) (scopedPDU, error) {
	top := &berReader{buf: b}
	seq, err := top.expect(0x30, "scopedPDU")
	if err != nil {
		return scopedPDU{}, err
	}
	r := sub(seq)
	var s scopedPDU
	if s.contextEngineID, err = r.octets("contextEngineID"); err != nil {
		return s, err
	}
	name, err := r.octets("contextName")
	if err != nil {
		return s, err
	}
	s.contextName = string(name)
	p, err := r.next()
	if err != nil {
		return s, fmt.Errorf("pdu: %w", err)
	}
	s.pdu = seq.value[p.start:p.end]
	return s, nil
}

// pdu is a decoded request PDU.
type pdu struct {
	typ          gosnmp.PDUType
	requestID    int32
	nonRepeaters int // GETBULK
	maxReps      int // GETBULK
	vars         []VarBind
}

// parsePDU decodes a request PDU element. The header is read here (gosnmp truncates
// GETBULK fields); the varbinds by gosnmp's codec.
func parsePDU(b []byte) (*pdu, error) {
	top := &berReader{buf: b}
	t, err := top.next()
	if err != nil {
		return nil, fmt.Errorf("pdu: %w", err)
	}
	p := &pdu{typ: gosnmp.PDUType(t.tag)}
	r := sub(t)
	id, err := r.integer("request-id")
	if err != nil {
		return nil, err
	}
	p.requestID = int32(id)
	a, err := r.integer("error-status/non-repeaters")
	if err != nil {
		return nil, err
	}
	c, err := r.integer("error-index/max-repetitions")
	if err != nil {
		return nil, err
	}
	if p.typ == gosnmp.GetBulkRequest {
		p.nonRepeaters, p.maxReps = clampInt(a), clampInt(c)
	}
	vbl, err := r.expect(0x30, "variable-bindings")
	if err != nil {
		return nil, err
	}
	if vars, ok := nullVarBinds(vbl.value); ok { // GET, GETNEXT, GETBULK: no gosnmp needed
		p.vars = vars
		return p, nil
	}
	if p.vars, err = gosnmpVarBinds(b[:t.end]); err != nil {
		return nil, err
	}
	return p, nil
}

// gosnmpVarBinds decodes the varbinds of a PDU element with gosnmp's codec, by
// wrapping the PDU in a v2c envelope.
func gosnmpVarBinds(pduElem []byte) ([]VarBind, error) {
	env := appendBERInt(nil, wireV2c)
	env = appendTLV(env, 0x04, nil)
	env = append(env, pduElem...)
	wrapped := appendTLV(nil, 0x30, env)
	x := &gosnmp.GoSNMP{Version: gosnmp.Version2c}
	pkt, err := x.SnmpDecodePacket(wrapped)
	if err != nil {
		return nil, fmt.Errorf("%w: varbinds: %w", errBER, err)
	}
	vars := make([]VarBind, len(pkt.Variables))
	for i, v := range pkt.Variables {
		oid, err := ParseOID(v.Name)
		if err != nil {
			return nil, fmt.Errorf("%w: varbind %d: %w", errBER, i+1, err)
		}
		vars[i] = VarBind{OID: oid, Type: v.Type, Value: v.Value}
		if !isObjectSyntax(v.Type) {
			// EndOfContents, BOOLEAN...: GET ignores values, SET gets wrongType for
			// NULL, and every answer that echoes the request stays encodable.
			vars[i].Type, vars[i].Value = gosnmp.Null, nil
			continue
		}
		if u, ok := v.Value.(uint); ok { // gosnmp's Counter32 and Gauge32: the contract says uint32
			if u > math.MaxUint32 {
				return nil, fmt.Errorf("%w: varbind %d: %v %d out of range", errBER, i+1, v.Type, u)
			}
			vars[i].Value = uint32(u)
		}
	}
	return vars, nil
}

// isObjectSyntax reports whether t may be a varbind's value (RFC 3416 section 3).
func isObjectSyntax(t gosnmp.Asn1BER) bool {
	switch t {
	case gosnmp.Integer, gosnmp.OctetString, gosnmp.Null, gosnmp.ObjectIdentifier, gosnmp.IPAddress,
		gosnmp.Counter32, gosnmp.Gauge32, gosnmp.TimeTicks, gosnmp.Opaque, gosnmp.Counter64,
		gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView:
		return true
	}
	return false
}

func clampInt(n int64) int {
	switch {
	case n < 0:
		return 0
	case n > 1<<20:
		return 1 << 20
	}
	return int(n)
}

// nullVarBinds decodes a varbind list whose values are all NULL, as in every read
// request; ok is false for anything else (then gosnmp's codec decodes it).
func nullVarBinds(list []byte) ([]VarBind, bool) {
	var vars []VarBind
	r := &berReader{buf: list}
	for !r.done() {
		vb, err := r.expect(0x30, "varbind")
		if err != nil || len(vb.value) < 4 || vb.value[len(vb.value)-2] != 0x05 || vb.value[len(vb.value)-1] != 0 {
			return nil, false
		}
		in := sub(vb)
		o, err := in.expect(0x06, "name")
		if err != nil || in.pos != len(vb.value)-2 {
			return nil, false
		}
		oid, ok := decodeOID(o.value)
		if !ok {
			return nil, false
		}
		vars = append(vars, VarBind{OID: oid, Type: gosnmp.Null})
	}
	return vars, true
}

// decodeOID decodes OBJECT IDENTIFIER contents; ok is false on any irregularity.
func decodeOID(b []byte) (OID, bool) {
	if len(b) == 0 || b[len(b)-1]&0x80 != 0 {
		return nil, false
	}
	o := make(OID, 0, len(b)+1)
	var v uint64
	first := true
	for i, c := range b {
		if v == 0 && c == 0x80 && (i == 0 || b[i-1]&0x80 == 0) {
			return nil, false // non-minimal arc
		}
		v = v<<7 | uint64(c&0x7f)
		if v > math.MaxUint32+80 {
			return nil, false
		}
		if c&0x80 != 0 {
			continue
		}
		if first {
			switch {
			case v < 40:
				o = append(o, 0, uint32(v))
			case v < 80:
				o = append(o, 1, uint32(v-40))
			default:
				if v-80 > math.MaxUint32 {
					return nil, false
				}
				o = append(o, 2, uint32(v-80))
			}
			first = false
		} else {
			if v > math.MaxUint32 {
				return nil, false
			}
			o = append(o, uint32(v))
		}
		v = 0
	}
	return o, true
}
