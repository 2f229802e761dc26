package snmp

import (
	"errors"
	"fmt"
	"sync"

	"github.com/gosnmp/gosnmp"
)

// errEncode marks a varbind whose value does not fit its type.
var errEncode = errors.New("cannot encode varbind")

// vbList is encoded varbinds back to back, the contents of a variable-bindings
// SEQUENCE; ends[i] is where varbind i ends, so that a prefix can be cut for size.
// Pooled: one per response being built.
type vbList struct {
	b    []byte
	ends []int
}

var vbLists = sync.Pool{New: func() any { return &vbList{b: make([]byte, 0, 2048)} }}

// prefix returns the first k varbinds' bytes.
func (l *vbList) prefix(k int) []byte {
	if k == 0 {
		return nil
	}
	return l.b[:l.ends[k-1]]
}

// release gives l back to the pool; l's bytes must no longer be used.
func (l *vbList) release() {
	if cap(l.b) > maxPooled {
		return
	}
	l.b, l.ends = l.b[:0], l.ends[:0]
	vbLists.Put(l)
}

// maxPooled bounds the buffers pools keep (a UDP datagram's worth).
const maxPooled = 1 << 16

// encodeVarBinds encodes vars into a pooled vbList (release it after use): the
// common types natively, the rest by gosnmp's codec. On a bad value it returns the
// 1-based index of the culprit.
func encodeVarBinds(vars []VarBind) (*vbList, int, error) {
	l := vbLists.Get().(*vbList)
	for i, vb := range vars {
		var ok bool
		if l.b, ok = appendVarBind(l.b, vb); !ok {
			list, err := marshalVBL(vars[i : i+1])
			if err != nil {
				l.release()
				return nil, i + 1, fmt.Errorf("%w %d (%s, type %v): %w", errEncode, i+1, vb.OID, vb.Type, err)
			}
			l.b = append(l.b, list...)
		}
		l.ends = append(l.ends, len(l.b))
	}
	return l, 0, nil
}

// marshalVBL has gosnmp marshal a packet holding vars and returns the contents of
// its variable-bindings SEQUENCE.
func marshalVBL(vars []VarBind) ([]byte, error) {
	pdus := make([]gosnmp.SnmpPDU, len(vars))
	for i, v := range vars {
		pdus[i] = gosnmp.SnmpPDU{Name: v.OID.String(), Type: v.Type, Value: v.Value}
	}
	pkt := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, PDUType: gosnmp.GetResponse, Variables: pdus}
	b, err := pkt.MarshalMsg()
	if err != nil {
		return nil, err
	}
	m, err := parseMessage(b)
	if err != nil {
		return nil, err
	}
	r := &berReader{buf: m.pdu}
	t, err := r.next()
	if err != nil {
		return nil, err
	}
	pr := sub(t)
	for range 3 { // request-id, error-status, error-index
		if _, err := pr.next(); err != nil {
			return nil, err
		}
	}
	l, err := pr.expect(0x30, "variable-bindings")
	return l.value, err
}

// pduOut is a response PDU to put in a message: its header fields and the contents
// of its variable-bindings SEQUENCE.
type pduOut struct {
	tag       gosnmp.PDUType
	requestID int32
	status    gosnmp.SNMPError
	index     int
	vbl       []byte
}

// header appends the PDU's tag, length, the three integers and the varbind list's
// tag and length: everything but the varbinds' bytes.
func (p pduOut) header(b []byte) []byte {
	var ints [3 * 7]byte // three INTEGER TLVs of at most 2+5 bytes here
	body := appendBERInt(ints[:0], int64(p.requestID))
	body = appendBERInt(body, int64(p.status))
	body = appendBERInt(body, int64(p.index))
	b = append(b, byte(p.tag))
	b = appendBERLength(b, len(body)+tlvLen(len(p.vbl)))
	b = append(b, body...)
	b = append(b, 0x30)
	return appendBERLength(b, len(p.vbl))
}

// size is the length of the whole PDU element.
func (p pduOut) size() int {
	var ints [3 * 7]byte
	body := appendBERInt(ints[:0], int64(p.requestID))
	body = appendBERInt(body, int64(p.status))
	body = appendBERInt(body, int64(p.index))
	return tlvLen(len(body) + tlvLen(len(p.vbl)))
}

// tlvLen is the length of an element whose contents are n bytes.
func tlvLen(n int) int { return 1 + berLengthLen(n) + n }

// buildPDU assembles a PDU element from encoded varbinds.
func buildPDU(tag gosnmp.PDUType, requestID int32, status gosnmp.SNMPError, index int, vbl []byte) []byte {
	p := pduOut{tag: tag, requestID: requestID, status: status, index: index, vbl: vbl}
	return append(p.header(make([]byte, 0, p.size())), vbl...)
}

// msgs recycles the buffers v1/v2c responses are built in; see releaseMsg.
var msgs sync.Pool

// releaseMsg gives a sent response's buffer back (one from wrapCommunity or any other
// slice nothing refers to any more).
func releaseMsg(b []byte) {
	if cap(b) <= maxPooled {
		b = b[:0]
		msgs.Put(&b)
	}
}

// wrapCommunity builds a v1/v2c message around p, in one buffer of the exact size.
func wrapCommunity(version int64, community []byte, p pduOut) []byte {
	var ver [8]byte
	v := appendBERInt(ver[:0], version)
	n := len(v) + tlvLen(len(community)) + p.size()
	total := tlvLen(n)
	var b []byte
	if bp, ok := msgs.Get().(*[]byte); ok && cap(*bp) >= total {
		b = (*bp)[:0]
	} else {
		b = make([]byte, 0, max(total, 512))
	}
	b = append(b, 0x30)
	b = appendBERLength(b, n)
	b = append(b, v...)
	b = appendTLV(b, 0x04, community)
	b = p.header(b)
	return append(b, p.vbl...)
}
