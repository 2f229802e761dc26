package snmp

import (
	"net"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// appendVarBind appends vb's BER element for the types and Go values of the VarBind
// contract. ok is false for anything else; the caller then asks gosnmp's codec.
// This is the hot path of every walk, so it allocates nothing but b's growth.
func appendVarBind(b []byte, vb VarBind) (out []byte, ok bool) {
	if len(vb.OID) < 2 || vb.OID[0] > 2 || (vb.OID[0] < 2 && vb.OID[1] >= 40) {
		return b, false
	}
	start := len(b)
	b = append(b, 0x30, 0) // SEQUENCE, length patched below
	b = appendOIDTLV(b, vb.OID)
	var good bool
	if b, good = appendValue(b, vb); !good {
		return b[:start], false
	}
	return patchLength(b, start), true
}

// patchLength fixes the one-byte length placeholder of the element at start,
// moving the contents when the length needs the long form.
func patchLength(b []byte, start int) []byte {
	n := len(b) - start - 2
	if n < 0x80 {
		b[start+1] = byte(n)
		return b
	}
	hdr := appendBERLength(nil, n)
	extra := len(hdr) - 1
	b = append(b, make([]byte, extra)...)
	copy(b[start+2+extra:], b[start+2:len(b)-extra])
	copy(b[start+1:], hdr)
	return b
}

func appendOIDTLV(b []byte, o OID) []byte {
	start := len(b)
	b = append(b, 0x06, 0)
	b = appendArc(b, o[0]*40+o[1])
	for _, a := range o[2:] {
		b = appendArc(b, a)
	}
	return patchLength(b, start)
}

func appendArc(b []byte, a uint32) []byte {
	switch {
	case a < 1<<7:
		return append(b, byte(a))
	case a < 1<<14:
		return append(b, byte(a>>7)|0x80, byte(a)&0x7f)
	case a < 1<<21:
		return append(b, byte(a>>14)|0x80, byte(a>>7)|0x80, byte(a)&0x7f)
	case a < 1<<28:
		return append(b, byte(a>>21)|0x80, byte(a>>14)|0x80, byte(a>>7)|0x80, byte(a)&0x7f)
	}
	return append(b, byte(a>>28)|0x80, byte(a>>21)|0x80, byte(a>>14)|0x80, byte(a>>7)|0x80, byte(a)&0x7f)
}

func appendValue(b []byte, vb VarBind) ([]byte, bool) {
	switch vb.Type {
	case gosnmp.Integer:
		switch v := vb.Value.(type) {
		case int:
			if int64(v) >= -1<<31 && int64(v) < 1<<31 {
				return appendBERInt(b, int64(v)), true
			}
		case int32:
			return appendBERInt(b, int64(v)), true
		}
	case gosnmp.OctetString:
		switch v := vb.Value.(type) {
		case []byte:
			return appendTLV(b, 0x04, v), true
		case string:
			b = append(b, 0x04)
			b = appendBERLength(b, len(v))
			return append(b, v...), true
		}
	case gosnmp.Counter32, gosnmp.Gauge32, gosnmp.TimeTicks:
		if v, ok := vb.Value.(uint32); ok {
			return appendUnsigned(b, byte(vb.Type), uint64(v)), true
		}
	case gosnmp.Counter64:
		if v, ok := vb.Value.(uint64); ok {
			return appendUnsigned(b, byte(vb.Type), v), true
		}
	case gosnmp.ObjectIdentifier:
		if s, ok := vb.Value.(string); ok {
			if o, err := ParseOID(s); err == nil && len(o) >= 2 && o[0] <= 2 && (o[0] == 2 || o[1] < 40) {
				return appendOIDTLV(b, o), true
			}
		}
	case gosnmp.IPAddress:
		if s, ok := vb.Value.(string); ok && !strings.Contains(s, ":") {
			if ip := net.ParseIP(s).To4(); ip != nil {
				return appendTLV(b, 0x40, ip), true
			}
		}
	case gosnmp.Null, gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView:
		return append(b, byte(vb.Type), 0), true
	}
	return b, false
}

// appendUnsigned appends an unsigned application type, with a leading zero when the
// high bit is set.
func appendUnsigned(b []byte, tag byte, v uint64) []byte {
	var tmp [9]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte(v)
		v >>= 8
		if v == 0 {
			break
		}
	}
	if tmp[i]&0x80 != 0 {
		i--
		tmp[i] = 0
	}
	return appendTLV(b, tag, tmp[i:])
}
