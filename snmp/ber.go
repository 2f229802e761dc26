package snmp

import (
	"errors"
	"fmt"
)

// errBER is wrapped by every decoding failure of incoming messages.
var errBER = errors.New("malformed BER")

// tlv is one decoded BER element: its tag, its contents, and where the whole element
// (header included) sits in the buffer it was read from.
type tlv struct {
	tag      byte
	value    []byte
	start    int // offset of the tag byte
	valStart int // offset of the first content byte
	end      int // offset just past the element
}

// berReader walks BER elements in buf, as SNMP uses them: single-byte tags, definite
// lengths (short or long form, non-minimal long forms accepted as net-snmp sends them).
type berReader struct {
	buf []byte
	pos int
}

func (r *berReader) done() bool { return r.pos >= len(r.buf) }

// next reads the element at the cursor and moves past it.
func (r *berReader) next() (tlv, error) {
	start := r.pos
	if len(r.buf)-start < 2 {
		return tlv{}, fmt.Errorf("%w: truncated element at offset %d", errBER, start)
	}
	tag := r.buf[start]
	if tag&0x1f == 0x1f {
		return tlv{}, fmt.Errorf("%w: multi-byte tag at offset %d", errBER, start)
	}
	l, n := int(r.buf[start+1]), 2
	if l&0x80 != 0 {
		k := l & 0x7f
		if k == 0 || k > 4 || len(r.buf)-start < 2+k {
			return tlv{}, fmt.Errorf("%w: bad length at offset %d", errBER, start)
		}
		l = 0
		for _, b := range r.buf[start+2 : start+2+k] {
			l = l<<8 | int(b)
		}
		n += k
	}
	if l < 0 || l > len(r.buf)-start-n {
		return tlv{}, fmt.Errorf("%w: length %d past end at offset %d", errBER, l, start)
	}
	t := tlv{tag: tag, value: r.buf[start+n : start+n+l], start: start, valStart: start + n, end: start + n + l}
	r.pos = t.end
	return t, nil
}

// expect reads the next element and checks its tag.
func (r *berReader) expect(tag byte, what string) (tlv, error) {
	t, err := r.next()
	if err != nil {
		return t, fmt.Errorf("%s: %w", what, err)
	}
	if t.tag != tag {
		return t, fmt.Errorf("%w: %s: tag 0x%02x, want 0x%02x", errBER, what, t.tag, tag)
	}
	return t, nil
}

// integer reads an INTEGER that fits in int64.
func (r *berReader) integer(what string) (int64, error) {
	t, err := r.expect(0x02, what)
	if err != nil {
		return 0, err
	}
	return berInt(t.value, what)
}

// octets reads an OCTET STRING.
func (r *berReader) octets(what string) ([]byte, error) {
	t, err := r.expect(0x04, what)
	return t.value, err
}

// sub returns a reader over the contents of t (a constructed element).
func sub(t tlv) *berReader { return &berReader{buf: t.value} }

func berInt(v []byte, what string) (int64, error) {
	if len(v) == 0 || len(v) > 8 {
		return 0, fmt.Errorf("%w: %s: integer of %d bytes", errBER, what, len(v))
	}
	n := int64(int8(v[0])) // sign-extend
	for _, b := range v[1:] {
		n = n<<8 | int64(b)
	}
	return n, nil
}

// appendBERLength appends a definite length in minimal form.
func appendBERLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n < 0x100:
		return append(b, 0x81, byte(n))
	case n < 0x10000:
		return append(b, 0x82, byte(n>>8), byte(n))
	default:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
}

// berLengthLen is the size of appendBERLength's output for n.
func berLengthLen(n int) int {
	switch {
	case n < 0x80:
		return 1
	case n < 0x100:
		return 2
	case n < 0x10000:
		return 3
	}
	return 4
}

// appendTLV appends tag, length and value.
func appendTLV(b []byte, tag byte, v []byte) []byte {
	b = append(b, tag)
	b = appendBERLength(b, len(v))
	return append(b, v...)
}

// appendBERInt appends an INTEGER in minimal two's complement form.
func appendBERInt(b []byte, n int64) []byte {
	i := 7 // index of the most significant byte to send
	for ; i > 0; i-- {
		hi, next := byte(n>>(8*i)), byte(n>>(8*(i-1)))
		if !(hi == 0 && next&0x80 == 0) && !(hi == 0xff && next&0x80 != 0) {
			break
		}
	}
	b = append(b, 0x02, byte(i+1))
	for ; i >= 0; i-- {
		b = append(b, byte(n>>(8*i)))
	}
	return b
}
