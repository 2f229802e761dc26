package mib

import (
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"
)

// Limit is an SMI range: of the value of an integer, of the length of a string.
type Limit struct{ Min, Max int64 }

func (l Limit) isZero() bool { return l == Limit{} }

// enums are the labels of every enumerated object, by name.
var enums = enumLabels()

// CheckValue checks the value of a SET varbind against the syntax of the object name
// (its BER type want, access acc and range lim), in the order of RFC 3416 4.2.5:
// notWritable, wrongType, wrongLength, wrongValue. It returns gosnmp.NoError and nil
// when the value fits, else the error status and why. Values come as gosnmp decodes
// them (Integer int, Gauge32 uint, OctetString []byte); other Go integer types and
// string are accepted too. Every writable string of the module is text: it must be
// UTF-8 without control characters (wrongValue). Whether the value suits the row
// (inconsistentValue...) is for the table to decide.
func CheckValue(name string, want gosnmp.Asn1BER, acc Access, lim Limit,
	typ gosnmp.Asn1BER, v any) (gosnmp.SNMPError, error) {
	if !acc.Writable() {
		return gosnmp.NotWritable, fmt.Errorf("%s is %v", name, acc)
	}
	if typ != want {
		return gosnmp.WrongType, fmt.Errorf("%s: type %v, want %v", name, typ, want)
	}
	switch want {
	case gosnmp.OctetString:
		return checkText(name, lim, v)
	case gosnmp.Integer, gosnmp.Gauge32:
		return checkInteger(name, want, lim, v)
	}
	return gosnmp.NotWritable, fmt.Errorf("%s: no SET check for type %v", name, want)
}

func checkText(name string, lim Limit, v any) (gosnmp.SNMPError, error) {
	var b []byte
	switch x := v.(type) {
	case []byte:
		b = x
	case string:
		b = []byte(x)
	default:
		return gosnmp.WrongType, fmt.Errorf("%s: value of Go type %T for an OCTET STRING", name, v)
	}
	if !lim.isZero() && (int64(len(b)) < lim.Min || int64(len(b)) > lim.Max) {
		return gosnmp.WrongLength, fmt.Errorf("%s: length %d outside %d..%d", name, len(b), lim.Min, lim.Max)
	}
	if !utf8.Valid(b) {
		return gosnmp.WrongValue, fmt.Errorf("%s: not UTF-8", name)
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) {
			return gosnmp.WrongValue, fmt.Errorf("%s: control character %U", name, r)
		}
	}
	return gosnmp.NoError, nil
}

func checkInteger(name string, want gosnmp.Asn1BER, lim Limit, v any) (gosnmp.SNMPError, error) {
	n, ok := toInt64(v)
	if !ok {
		return gosnmp.WrongType, fmt.Errorf("%s: value of Go type %T for %v", name, v, want)
	}
	lo, hi := int64(math.MinInt32), int64(math.MaxInt32)
	if want == gosnmp.Gauge32 {
		lo, hi = 0, math.MaxUint32
	}
	if !lim.isZero() {
		lo, hi = lim.Min, lim.Max
	}
	if n < lo || n > hi {
		return gosnmp.WrongValue, fmt.Errorf("%s: %d outside %d..%d", name, n, lo, hi)
	}
	if labels, ok := enums[name]; ok {
		if _, ok := labels[int(n)]; !ok {
			return gosnmp.WrongValue, fmt.Errorf("%s: %d is not one of its values", name, n)
		}
	}
	if n == int64(RowNotReady) && strings.HasSuffix(name, "RowStatus") {
		return gosnmp.WrongValue, fmt.Errorf("%s: notReady(3) cannot be written (RFC 2579)", name)
	}
	return gosnmp.NoError, nil
}

// toInt64 converts the integer types gosnmp and callers use; false for others and for
// a uint64 too large for int64 (no SMI integer is that large anyway).
func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint:
		return int64(min(uint64(x), math.MaxInt64)), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(min(x, math.MaxInt64)), true
	}
	return 0, false
}
