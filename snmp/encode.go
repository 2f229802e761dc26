package snmp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des" //nolint:gosec // RFC 3414
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gosnmp/gosnmp"
)

// errEncode marks a varbind whose value does not fit its type.
var errEncode = errors.New("cannot encode varbind")

// encodeVarBinds returns each varbind's BER element: the common types natively, the
// rest by gosnmp's codec. On a bad value it returns the 1-based index of the culprit.
func encodeVarBinds(vars []VarBind) ([][]byte, int, error) {
	if len(vars) == 0 {
		return nil, 0, nil
	}
	buf := make([]byte, 0, 48*len(vars))
	ends := make([]int, len(vars))
	for i, vb := range vars {
		var ok bool
		if buf, ok = appendVarBind(buf, vb); !ok {
			list, err := marshalVBL(vars[i : i+1])
			if err != nil {
				return nil, i + 1, fmt.Errorf("%w %d (%s, type %v): %w", errEncode, i+1, vb.OID, vb.Type, err)
			}
			buf = append(buf, list...)
		}
		ends[i] = len(buf)
	}
	out := make([][]byte, len(vars))
	start := 0
	for i, end := range ends {
		out[i] = buf[start:end:end]
		start = end
	}
	return out, 0, nil
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

// buildPDU assembles a PDU element from encoded varbinds.
func buildPDU(tag gosnmp.PDUType, requestID int32, status gosnmp.SNMPError, index int, vbs [][]byte) []byte {
	n := 0
	for _, vb := range vbs {
		n += len(vb)
	}
	list := make([]byte, 0, n)
	for _, vb := range vbs {
		list = append(list, vb...)
	}
	body := appendBERInt(nil, int64(requestID))
	body = appendBERInt(body, int64(status))
	body = appendBERInt(body, int64(index))
	body = appendTLV(body, 0x30, list)
	return appendTLV(nil, byte(tag), body)
}

// wrapCommunity builds a v1/v2c message around pdu.
func wrapCommunity(version int64, community []byte, pdu []byte) []byte {
	body := appendBERInt(nil, version)
	body = appendTLV(body, 0x04, community)
	body = append(body, pdu...)
	return appendTLV(nil, 0x30, body)
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
