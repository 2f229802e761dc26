package snmp

import (
	"crypto/cipher"
	"encoding/binary"
	"fmt"

	"github.com/gosnmp/gosnmp"
)

// v3out describes an outgoing v3 message from this (authoritative) engine.
type v3out struct {
	msgID       int64
	level       byte // flagAuth|flagPriv bits, no reportable
	user        *usmUser
	userName    []byte // for noAuth reports, the name as received
	contextName string
}

// wrapV3 builds, encrypts and authenticates a v3 message around p. The message is
// written once, front to back, into a pooled buffer of its exact size (every length
// is known beforehand); the scopedPDU is encrypted straight into it and the digest
// written where msgAuthenticationParameters was left zero.
func (e *Engine) wrapV3(o v3out, p pduOut) ([]byte, error) {
	boots, etime := e.boots, e.engineTime()
	auth, priv := o.level&flagAuth != 0, o.level&flagPriv != 0
	name := o.userName
	if o.user != nil {
		name = []byte(o.user.name)
	}
	scopedContent := tlvLen(len(e.engineID)) + tlvLen(len(o.contextName)) + p.size()
	scopedLen := tlvLen(scopedContent)
	dataLen, ctLen := scopedLen, 0
	var salt []byte
	var saltBuf [8]byte
	if priv {
		if ctLen = scopedLen; o.user.priv == gosnmp.DES {
			ctLen = (scopedLen + 7) / 8 * 8 // CBC: padded to whole blocks
		}
		dataLen = tlvLen(ctLen)
		salt = e.newSalt(saltBuf[:0], o.user, boots)
	}
	macN := 0
	if auth {
		macN = macLen(o.user.auth)
	}
	usmContent := tlvLen(len(e.engineID)) + berIntLen(int64(boots)) + berIntLen(int64(etime)) + tlvLen(len(name)) +
		tlvLen(macN) + tlvLen(len(salt))
	hdrContent := berIntLen(o.msgID) + berIntLen(int64(e.maxSize)) + tlvLen(1) + berIntLen(int64(ModelUSM))
	bodyContent := berIntLen(wireV3) + tlvLen(hdrContent) + tlvLen(tlvLen(usmContent)) + dataLen
	total := tlvLen(bodyContent)

	b := msgBuf(total)
	b = append(b, 0x30)
	b = appendBERLength(b, bodyContent)
	b = appendBERInt(b, wireV3)
	b = append(b, 0x30)
	b = appendBERLength(b, hdrContent)
	b = appendBERInt(b, o.msgID)
	b = appendBERInt(b, int64(e.maxSize))
	b = append(b, 0x04, 1, o.level)
	b = appendBERInt(b, int64(ModelUSM))
	b = append(b, 0x04)
	b = appendBERLength(b, tlvLen(usmContent))
	b = append(b, 0x30)
	b = appendBERLength(b, usmContent)
	b = appendTLV(b, 0x04, e.engineID)
	b = appendBERInt(b, int64(boots))
	b = appendBERInt(b, int64(etime))
	b = appendTLV(b, 0x04, name)
	b = append(b, 0x04)
	b = appendBERLength(b, macN)
	authOff := len(b)
	b = append(b, zeroMAC[:macN]...)
	b = appendTLV(b, 0x04, salt)
	if !priv {
		b = appendScoped(b, e.engineID, o.contextName, scopedContent, p)
	} else {
		b = append(b, 0x04)
		b = appendBERLength(b, ctLen)
		pt := appendScoped(msgBuf(ctLen), e.engineID, o.contextName, scopedContent, p)
		pt = append(pt, zeroMAC[:ctLen-len(pt)]...) // DES padding (at most 7 bytes)
		start := len(b)
		b = b[:start+ctLen]
		err := o.user.encrypt(b[start:], pt, boots, etime, salt)
		releaseMsg(pt)
		if err != nil {
			return nil, err
		}
	}
	if len(b) != total {
		return nil, fmt.Errorf("v3 message of %d bytes, computed %d", len(b), total)
	}
	if auth {
		o.user.sign(b[authOff:authOff+macN], b)
	}
	return b, nil
}

// zeroMAC is zeros for msgAuthenticationParameters (and DES padding); never written.
var zeroMAC [64]byte

// appendScoped appends the scopedPDU of p (contents of scopedContent bytes).
func appendScoped(b, engineID []byte, contextName string, scopedContent int, p pduOut) []byte {
	b = append(b, 0x30)
	b = appendBERLength(b, scopedContent)
	b = appendTLV(b, 0x04, engineID)
	b = append(b, 0x04)
	b = appendBERLength(b, len(contextName))
	b = append(b, contextName...)
	b = p.header(b)
	return append(b, p.vbl...)
}

// berIntLen is the size of appendBERInt's output for n.
func berIntLen(n int64) int {
	var tmp [10]byte
	return len(appendBERInt(tmp[:0], n))
}

// msgBuf returns an empty buffer of capacity >= n, from the pool when one fits.
func msgBuf(n int) []byte {
	if bp, ok := msgs.Get().(*[]byte); ok && cap(*bp) >= n {
		return (*bp)[:0]
	}
	return make([]byte, 0, max(n, 512))
}

// newSalt appends the privacy parameters of a new message (RFC 3414 section 8.1.1.1
// for DES: engine boots and a counter; RFC 3826: a 64-bit counter).
func (e *Engine) newSalt(b []byte, u *usmUser, boots uint32) []byte {
	n := e.salt.Add(1)
	if u.priv == gosnmp.DES {
		b = binary.BigEndian.AppendUint32(b, boots)
		return binary.BigEndian.AppendUint32(b, uint32(n))
	}
	return binary.BigEndian.AppendUint64(b, n)
}

// encrypt writes the ciphertext of pt (a whole number of blocks for DES) to dst.
func (u *usmUser) encrypt(dst, pt []byte, boots, etime uint32, salt []byte) error {
	if u.block == nil {
		return fmt.Errorf("user %q: no privacy protocol", u.name)
	}
	if u.priv == gosnmp.DES {
		var iv [8]byte
		for i := range iv {
			iv[i] = u.privKey[8+i] ^ salt[i]
		}
		cipher.NewCBCEncrypter(u.block, iv[:]).CryptBlocks(dst, pt)
		return nil
	}
	var iv [16]byte
	binary.BigEndian.PutUint32(iv[:], boots)
	binary.BigEndian.PutUint32(iv[4:], etime)
	copy(iv[8:], salt)
	cipher.NewCFBEncrypter(u.block, iv[:]).XORKeyStream(dst, pt) //nolint:staticcheck // RFC 3826
	return nil
}
