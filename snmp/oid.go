package snmp

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// OID is a numeric object identifier. OIDs handed to and returned by handlers are
// never modified in place; Append returns a fresh slice.
type OID []uint32

// ErrBadOID is returned for text that is not a dotted numeric OID.
var ErrBadOID = errors.New("malformed OID")

// ParseOID parses ".1.3.6.1" or "1.3.6.1".
func ParseOID(s string) (OID, error) {
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return OID{}, nil
	}
	parts := strings.Split(s, ".")
	o := make(OID, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: %q", ErrBadOID, s)
		}
		o[i] = uint32(n)
	}
	return o, nil
}

// MustOID parses a constant OID; for package-level tables of well-known OIDs only.
func MustOID(s string) OID {
	o, err := ParseOID(s)
	if err != nil {
		panic(err)
	}
	return o
}

// String renders the OID with a leading dot, as gosnmp expects.
func (o OID) String() string {
	var b strings.Builder
	b.Grow(len(o) * 4)
	for _, n := range o {
		b.WriteByte('.')
		b.WriteString(strconv.FormatUint(uint64(n), 10))
	}
	return b.String()
}

// Compare orders OIDs lexicographically, as SNMP does: -1, 0 or +1.
func (o OID) Compare(p OID) int { return slices.Compare(o, p) }

// HasPrefix reports whether p is a prefix of o (or equal to it).
func (o OID) HasPrefix(p OID) bool {
	return len(o) >= len(p) && slices.Equal(o[:len(p)], p)
}

// Append returns a new OID: o followed by subs.
func (o OID) Append(subs ...uint32) OID {
	n := make(OID, 0, len(o)+len(subs))
	return append(append(n, o...), subs...)
}
