package hosts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"unsafe"

	"github.com/digitalocean/go-libvirt"
)

// statsRecord is one record of a ConnectGetAllDomainStats reply: the domain's handle
// and its parsed counters.
type statsRecord struct {
	Dom   libvirt.Domain
	Stats DomainStats
}

// Bounds of remote_protocol.x: REMOTE_DOMAIN_LIST_MAX records per reply,
// REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX parameters per record, REMOTE_STRING_MAX
// bytes per string. A reply beyond them is malformed: libvirtd never sends one.
const (
	statsRecordsMax = 16384
	statsParamsMax  = 262144
	xdrStringMax    = 4194304
)

var errStatsReply = errors.New("malformed ConnectGetAllDomainStats reply")

// xdrReader reads XDR (RFC 4506) items from a reply body; the first error sticks.
type xdrReader struct {
	b   []byte
	err error
}

func (r *xdrReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at %d bytes from the end", errStatsReply, what, len(r.b))
	}
	r.b = nil
}

func (r *xdrReader) uint32(what string) uint32 {
	if len(r.b) < 4 {
		r.fail(what)
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *xdrReader) uint64(what string) uint64 {
	if len(r.b) < 8 {
		r.fail(what)
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// bytes returns the next n bytes, padded to 4 on the wire; they alias the body.
func (r *xdrReader) bytes(n uint32, what string) []byte {
	padded := (uint64(n) + 3) &^ 3
	if uint64(len(r.b)) < padded {
		r.fail(what)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[padded:]
	return v
}

// string reads an XDR string of at most xdrStringMax bytes, aliasing the body.
func (r *xdrReader) string(what string) []byte {
	n := r.uint32(what)
	if n > xdrStringMax {
		r.fail(what + " length")
		return nil
	}
	return r.bytes(n, what)
}

// count reads an array length, bounded by max and by what the rest of the body can
// hold at min bytes per element, so that no allocation follows an untrusted length.
func (r *xdrReader) count(max, min int, what string) int {
	n := r.uint32(what)
	if uint64(n) > uint64(max) || uint64(n)*uint64(min) > uint64(len(r.b)) {
		r.fail(what + " count")
		return 0
	}
	return int(n)
}

// decodeStatsReply decodes remote_connect_get_all_domain_stats_ret (remote_protocol.x)
// straight into DomainStats, as parseDomainStats does from go-libvirt's records: a
// count of remote_domain_stats_record, each a remote_nonnull_domain (name, 16-byte
// UUID, int id) and a count of remote_typed_param (field string, then the
// remote_typed_param_value union: int type, then the value of that type).
func decodeStatsReply(body []byte) ([]statsRecord, error) {
	r := xdrReader{b: body}
	// A record takes at least 4+16+4+4 bytes: an empty name, the UUID, the id, no params.
	n := r.count(statsRecordsMax, 28, "records")
	out := make([]statsRecord, 0, n)
	var p statsParser
	for range n {
		var rec statsRecord
		rec.Dom.Name = string(r.string("domain name"))
		copy(rec.Dom.UUID[:], r.bytes(16, "domain uuid"))
		rec.Dom.ID = int32(r.uint32("domain id"))
		// A parameter takes at least 4+4+4 bytes: an empty field, the type, an int.
		np := r.count(statsParamsMax, 12, "params")
		p.start(UUID(rec.Dom.UUID))
		for range np {
			field := r.string("param field")
			var num uint64
			var str string
			switch typ := r.uint32("param type"); typ {
			case 1, 6: // VIR_TYPED_PARAM_INT, _BOOLEAN
				num = positive(int64(int32(r.uint32("int"))))
			case 2: // VIR_TYPED_PARAM_UINT
				num = uint64(r.uint32("uint"))
			case 3: // VIR_TYPED_PARAM_LLONG
				num = positive(int64(r.uint64("llong")))
			case 4: // VIR_TYPED_PARAM_ULLONG
				num = r.uint64("ullong")
			case 5: // VIR_TYPED_PARAM_DOUBLE
				num = asUint(math.Float64frombits(r.uint64("double")))
			case 7: // VIR_TYPED_PARAM_STRING
				str = string(r.string("string"))
			default:
				r.fail(fmt.Sprintf("param type %d", typ))
			}
			if r.err != nil {
				return nil, r.err
			}
			// The field only lives through set, which copies what it keeps.
			p.set(unsafe.String(unsafe.SliceData(field), len(field)), num, str)
		}
		if r.err != nil {
			return nil, r.err
		}
		rec.Stats = p.done()
		out = append(out, rec)
	}
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
}

func positive(v int64) uint64 {
	if v > 0 {
		return uint64(v)
	}
	return 0
}

// statsReplyMax is VIR_NET_MESSAGE_PAYLOAD_MAX (virnetprotocol.x): libvirtd sends no
// larger body. A larger one is left to go-libvirt.
const statsReplyMax = 33554408

// statsTap decodes off the wire the reply to the one stats call armed on a
// connection (conn.allDomainStats), and zeroes its record count on the way to
// go-libvirt, which so decodes an empty list: its reflective XDR decoding of the
// records was the first cost of a steady poll. It lives in openReplyWatch, under
// readErrConn.mu.
type statsTap struct {
	armed  bool // a call wants its reply decoded here
	sent   bool // that call was written, with serial
	serial uint32
	on     bool // the current packet is its successful reply
	at     int  // body bytes of that reply seen so far
	body   []byte
	buf    *[]byte // body's buffer, from statsBodies
	done   bool    // the reply was decoded: recs or err
	recs   []statsRecord
	err    error
}

var statsBodies = sync.Pool{New: func() any { return new([]byte) }}

// header is told of each packet's header.
func (t *statsTap) header(f *frames, remoteReply bool) {
	t.on = t.armed && t.sent && !t.done && remoteReply && f.proc() == rpcProcGetAllDomainStats &&
		f.serial() == t.serial && f.status() == rpcStatusOK && f.rest <= statsReplyMax
	t.at = 0
	if t.on {
		t.buf = statsBodies.Get().(*[]byte)
		t.body = (*t.buf)[:0]
	}
}

// feed is told of the body bytes of each packet, in place in the reader's buffer.
func (t *statsTap) feed(body []byte) {
	if !t.on {
		return
	}
	t.body = append(t.body, body...) // grows with what came, not with the length said
	for i := 0; i < len(body) && t.at+i < 4; i++ {
		body[i] = 0 // the record count go-libvirt reads
	}
	t.at += len(body)
}

// end is told of each packet's end.
func (t *statsTap) end() {
	if !t.on {
		return
	}
	t.recs, t.err = decodeStatsReply(t.body)
	t.on, t.done = false, true
	if cap(t.body) <= 1<<20 { // a huge one goes
		*t.buf = t.body[:0]
		statsBodies.Put(t.buf)
	}
	t.body, t.buf = nil, nil
}

// armStats has the reply to the next stats call written decoded by the tap.
func (c *readErrConn) armStats() {
	c.mu.Lock()
	c.open.stats = statsTap{armed: true}
	c.mu.Unlock()
}

// takeStats disarms the tap and returns what it decoded; done is false when it saw no
// successful reply (an error reply, a lost connection, a body over statsReplyMax).
func (c *readErrConn) takeStats() (recs []statsRecord, done bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.open.stats
	c.open.stats = statsTap{}
	return t.recs, t.done, t.err
}

// allDomainStats makes one ConnectGetAllDomainStats call for all domains, its reply
// decoded by the connection's statsTap: the one stats call in flight on c.
func (c *conn) allDomainStats(l *lv, stats libvirt.DomainStatsTypes, flags libvirt.ConnectGetAllDomainStatsFlags) ([]statsRecord, error) {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	c.nc.armStats()
	recs, err := l.ConnectGetAllDomainStats(nil, uint32(stats), uint32(flags))
	out, done, derr := c.nc.takeStats()
	switch {
	case err != nil:
		return nil, err
	case done:
		return out, derr
	}
	out = make([]statsRecord, 0, len(recs)) // go-libvirt decoded it
	var p statsParser
	for _, r := range recs {
		out = append(out, statsRecord{Dom: r.Dom, Stats: parseDomainStats(&p, UUID(r.Dom.UUID), r.Params)})
	}
	return out, nil
}
