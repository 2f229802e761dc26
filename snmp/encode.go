package snmp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des" //nolint:gosec // RFC 3414
	"crypto/hmac"
	"encoding/binary"
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

// v3out describes an outgoing v3 message from this (authoritative) engine.
type v3out struct {
	msgID       int64
	level       byte // flagAuth|flagPriv bits, no reportable
	user        *usmUser
	userName    []byte // for noAuth reports, the name as received
	contextName string
}

// wrapV3 builds, encrypts and authenticates a v3 message around pdu.
func (e *Engine) wrapV3(o v3out, pdu []byte) ([]byte, error) {
	scoped := appendTLV(nil, 0x04, e.engineID)
	scoped = appendTLV(scoped, 0x04, []byte(o.contextName))
	scoped = appendTLV(nil, 0x30, append(scoped, pdu...))
	boots, etime := e.boots, e.engineTime()
	var salt, data []byte
	data = scoped
	if o.level&flagPriv != 0 {
		var err error
		if salt, data, err = e.encrypt(o.user, boots, etime, scoped); err != nil {
			return nil, err
		}
		data = appendTLV(nil, 0x04, data)
	}
	var authParams []byte
	if o.level&flagAuth != 0 {
		authParams = make([]byte, macLen(o.user.auth))
	}
	name := o.userName
	if o.user != nil {
		name = []byte(o.user.name)
	}
	usm := appendTLV(nil, 0x04, e.engineID)
	usm = appendBERInt(usm, int64(boots))
	usm = appendBERInt(usm, int64(etime))
	usm = appendTLV(usm, 0x04, name)
	usm = appendTLV(usm, 0x04, authParams)
	usm = appendTLV(usm, 0x04, salt)
	usm = appendTLV(nil, 0x30, usm)

	hdr := appendBERInt(nil, o.msgID)
	hdr = appendBERInt(hdr, int64(e.maxSize))
	hdr = appendTLV(hdr, 0x04, []byte{o.level})
	hdr = appendBERInt(hdr, int64(ModelUSM))

	body := appendBERInt(nil, wireV3)
	body = appendTLV(body, 0x30, hdr)
	body = appendTLV(body, 0x04, usm)
	body = append(body, data...)
	msg := appendTLV(nil, 0x30, body)
	if o.level&flagAuth == 0 {
		return msg, nil
	}
	m, err := parseMessage(msg) // locates msgAuthenticationParameters
	if err != nil {
		return nil, fmt.Errorf("re-reading own message: %w", err)
	}
	mac := hmac.New(hashFunc(o.user.auth), o.user.authKey)
	mac.Write(msg)
	copy(msg[m.usm.authOff:], mac.Sum(nil)[:len(authParams)])
	return msg, nil
}

// encrypt returns the privacy parameters (salt) and the ciphertext of scoped.
func (e *Engine) encrypt(u *usmUser, boots, etime uint32, scoped []byte) ([]byte, []byte, error) {
	n := e.salt.Add(1)
	salt := binary.BigEndian.AppendUint64(nil, n)
	switch u.priv {
	case gosnmp.DES:
		binary.BigEndian.PutUint32(salt, boots)    // RFC 3414 section 8.1.1.1
		block, err := des.NewCipher(u.privKey[:8]) //nolint:gosec
		if err != nil {
			return nil, nil, err
		}
		iv := make([]byte, 8)
		for i := range iv {
			iv[i] = u.privKey[8+i] ^ salt[i]
		}
		pt := append(scoped, make([]byte, (8-len(scoped)%8)%8)...)
		ct := make([]byte, len(pt))
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, pt)
		return salt, ct, nil
	case gosnmp.AES, gosnmp.AES192, gosnmp.AES256, gosnmp.AES192C, gosnmp.AES256C:
		block, err := aes.NewCipher(u.privKey)
		if err != nil {
			return nil, nil, err
		}
		iv := binary.BigEndian.AppendUint32(nil, boots)
		iv = binary.BigEndian.AppendUint32(iv, etime)
		iv = append(iv, salt...)
		ct := make([]byte, len(scoped))
		cipher.NewCFBEncrypter(block, iv).XORKeyStream(ct, scoped) //nolint:staticcheck // RFC 3826
		return salt, ct, nil
	}
	return nil, nil, fmt.Errorf("user %q: no privacy protocol", u.name)
}
