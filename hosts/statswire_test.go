package hosts

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/vmgate/vmgate/e2e/testkit"
)

// xdrStatsReply encodes remote_connect_get_all_domain_stats_ret as libvirtd does.
// A parameter's type is its Value.D, or else that of its Go value.
func xdrStatsReply(recs []libvirt.DomainStatsRecord) []byte {
	be := binary.BigEndian
	var b []byte
	str := func(s string) {
		b = be.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
		b = append(b, make([]byte, (4-len(s)%4)%4)...)
	}
	b = be.AppendUint32(b, uint32(len(recs)))
	for _, r := range recs {
		str(r.Dom.Name)
		b = append(b, r.Dom.UUID[:]...)
		b = be.AppendUint32(b, uint32(r.Dom.ID))
		b = be.AppendUint32(b, uint32(len(r.Params)))
		for _, p := range r.Params {
			str(p.Field)
			typ := p.Value.D
			switch v := p.Value.I.(type) {
			case int32:
				typ = max(typ, 1)
				b = be.AppendUint32(b, typ)
				b = be.AppendUint32(b, uint32(v))
			case uint32:
				b = be.AppendUint32(b, 2)
				b = be.AppendUint32(b, v)
			case int64:
				b = be.AppendUint32(b, 3)
				b = be.AppendUint64(b, uint64(v))
			case uint64:
				b = be.AppendUint32(b, 4)
				b = be.AppendUint64(b, v)
			case float64:
				b = be.AppendUint32(b, 5)
				b = be.AppendUint64(b, math.Float64bits(v))
			case string:
				b = be.AppendUint32(b, 7)
				str(v)
			}
		}
	}
	return b
}

// statsRecords are records of every shape the parser meets: a running QEMU domain's,
// a test-driver domain's, a shut-off one's, every value type, odd values and orders.
func statsRecords() []libvirt.DomainStatsRecord {
	dom := func(n byte, name string, id int32) libvirt.Domain {
		return libvirt.Domain{Name: name, UUID: libvirt.UUID{n, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, n}, ID: id}
	}
	odd := []libvirt.TypedParam{
		tp("state.state", int32(3)), tp("state.reason", int32(-1)),
		tp("cpu.time", int64(-5)), tp("cpu.user", int64(77)), tp("cpu.system", 1.5e9),
		{Field: "balloon.current", Value: libvirt.TypedParamValue{D: 6, I: int32(1)}},
		tp("balloon.rss", "not a number"), tp("balloon.maximum", math.NaN()), tp("balloon.usable", -2.5),
		tp("block.1.name", "vdb"), tp("block.1.rd.bytes", uint64(math.MaxUint64)),
		tp("block.0.name", uint32(7)), tp("block.0.path", "/p/é\x00x"), tp("block.0.wr.reqs", uint32(9)),
		tp("block.1.path", "/q"), tp("block.x.name", "no index"), tp("block.70000.name", "index too big"),
		tp("vcpu.3.time", uint64(3)), tp("vcpu.1.state", int32(1)), tp("vcpu.3.state", int32(2)),
		tp("net.0.name", "vnet0"), tp("net.0.rx.bytes", uint64(1)), tp("net.count", uint32(1)),
		tp("", int32(1)), tp("unknown.group.field", "x"), tp("state", int32(1)),
	}
	return []libvirt.DomainStatsRecord{
		{Dom: dom(1, "qemu-vm", 7), Params: qemuStatsParams()},
		{Dom: dom(2, "test-vm", 2), Params: []libvirt.TypedParam{tp("state.state", int32(1)), tp("state.reason", int32(1))}},
		{Dom: dom(3, "off", -1), Params: append([]libvirt.TypedParam{tp("state.state", int32(5))}, qemuStatsParams()[2:]...)},
		{Dom: dom(4, "odd", 12), Params: odd},
		{Dom: dom(5, "", 0)},
	}
}

// statsDaemon answers go-libvirt on srv as libvirtd would: the connect sequence,
// then each stats call with the packets stats gives for the call's serial, written
// in chunks of chunk bytes (a reply split across reads); any other call is answered
// with an empty OK reply after the next stats reply (calls in flight together), and
// held told (if not nil) that it waits.
func statsDaemon(srv net.Conn, chunk int, stats func(serial uint32) []rpcPacket, holding chan<- struct{}) {
	var held []rpcPacket
	write := func(ps ...rpcPacket) error {
		for _, p := range ps {
			b := p.bytes()
			for len(b) > 0 {
				k := min(chunk, len(b))
				if _, err := srv.Write(b[:k]); err != nil {
					return err
				}
				b = b[k:]
			}
		}
		return nil
	}
	for {
		p, err := readRPC(srv)
		if err != nil {
			return
		}
		reply := rpcPacket{program: p.program, version: p.version, proc: p.proc, typ: rpcTypeReply, serial: p.serial}
		switch p.proc {
		case rpcProcAuthList:
			reply.body = []byte{0, 0, 0, 0}
		case rpcProcConnectOpen:
		case rpcProcGetAllDomainStats:
			if write(stats(p.serial)...) != nil || write(held...) != nil {
				return
			}
			held = nil
			continue
		default:
			reply.body = make([]byte, 8) // a ConnectGetLibVersion's uint64
			held = append(held, reply)
			if holding != nil {
				holding <- struct{}{}
			}
			continue
		}
		if write(reply) != nil {
			return
		}
	}
}

func statsReply(serial uint32, body []byte) rpcPacket {
	return rpcPacket{program: rpcRemoteProgram, version: 1, proc: rpcProcGetAllDomainStats, typ: rpcTypeReply, serial: serial, body: body}
}

// goLibvirtStats is what go-libvirt's own decoding and parseDomainStats make of body.
func goLibvirtStats(t *testing.T, body []byte) []statsRecord {
	t.Helper()
	cli, srv := net.Pipe()
	defer srv.Close()
	go statsDaemon(srv, 1<<20, func(serial uint32) []rpcPacket { return []rpcPacket{statsReply(serial, body)} }, nil)
	l := libvirt.NewWithDialer(dialers.NewAlreadyConnected(cli))
	if err := l.ConnectToURI("test:///default"); err != nil {
		t.Fatal(err)
	}
	defer cli.Close() // not Disconnect: its ConnectClose would wait for a stats call
	recs, err := l.ConnectGetAllDomainStats(nil, uint32(statsGroups), 0)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]statsRecord, 0, len(recs))
	var p statsParser
	for _, r := range recs {
		out = append(out, statsRecord{Dom: r.Dom, Stats: parseDomainStats(&p, UUID(r.Dom.UUID), r.Params)})
	}
	return out
}

// TestDecodeStatsReply: the reply decoded off the wire gives what go-libvirt's decoding
// of the same bytes and parseDomainStats give, record by record.
func TestDecodeStatsReply(t *testing.T) {
	recs := statsRecords()
	for n := range len(recs) + 1 {
		body := xdrStatsReply(recs[:n])
		got, err := decodeStatsReply(body)
		if err != nil {
			t.Fatalf("%d records: %v", n, err)
		}
		if want := goLibvirtStats(t, body); !reflect.DeepEqual(got, want) {
			t.Errorf("%d records:\n got %+v\nwant %+v", n, got, want)
		}
	}
	// A domain of 1,024 vCPUs has over 4,096 parameters (libvirt 9.0 allows 262,144).
	big := []libvirt.TypedParam{tp("state.state", int32(1)), tp("vcpu.current", uint32(1024))}
	for n := range 1024 {
		for _, f := range []string{"state", "time", "wait", "delay"} {
			big = append(big, tp(fmt.Sprintf("vcpu.%d.%s", n, f), uint64(n)))
		}
	}
	body := xdrStatsReply([]libvirt.DomainStatsRecord{{Dom: libvirt.Domain{Name: "big", ID: 1}, Params: big}})
	if got, err := decodeStatsReply(body); err != nil || !reflect.DeepEqual(got, goLibvirtStats(t, body)) {
		t.Errorf("a record of %d parameters: %v", len(big), err)
	}
	// Every truncation of a valid reply is an error, never a panic.
	body = xdrStatsReply(recs)
	for n := range len(body) {
		if _, err := decodeStatsReply(body[:n]); !errors.Is(err, errStatsReply) {
			t.Fatalf("truncated to %d of %d bytes: err %v", n, len(body), err)
		}
	}
}

// TestDecodeStatsReplyBounds: counts and lengths beyond the protocol's bounds or the
// body are errors before anything is allocated for them.
func TestDecodeStatsReplyBounds(t *testing.T) {
	be := binary.BigEndian
	u32 := func(vs ...uint32) []byte {
		var b []byte
		for _, v := range vs {
			b = be.AppendUint32(b, v)
		}
		return b
	}
	rec := func(tail ...uint32) []byte { // one record, domain "", UUID 0, ID 0, then tail
		return append(append(u32(1, 0), make([]byte, 16)...), u32(append([]uint32{0}, tail...)...)...)
	}
	for name, body := range map[string][]byte{
		"records over the protocol's max": u32(statsRecordsMax + 1),
		"records over the body":           append(u32(2), make([]byte, 40)...),
		"huge record count":               u32(math.MaxUint32),
		"params over the protocol's max":  rec(statsParamsMax + 1),
		"params over the body":            rec(3, 0, 1, 1),
		"field length over the body":      rec(1, 100, 1, 1),
		"field length huge":               rec(1, math.MaxUint32, 1, 1),
		"unknown type":                    rec(1, 0, 8, 1),
		"string value too long":           rec(1, 0, 7, xdrStringMax+1),
		"name too long":                   append(u32(1, xdrStringMax+1), make([]byte, 32)...),
		"empty":                           nil,
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := decodeStatsReply(body)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, errStatsReply) {
			t.Errorf("%s: err %v", name, err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Errorf("%s: %d bytes allocated", name, n)
		}
	}
}

func FuzzDecodeStatsReply(f *testing.F) {
	recs := statsRecords()
	for n := range len(recs) + 1 {
		f.Add(xdrStatsReply(recs[:n]))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeStatsReply(body)
		if err == nil && len(got)*28 > len(body) {
			t.Fatalf("%d records from %d bytes", len(got), len(body))
		}
	})
}

// TestStatsTap: over a connection, a stats call's reply is decoded by the tap however
// it is split across reads, with another call in flight, an event in between, an
// error reply or a malformed one; a stats call made straight through go-libvirt (not
// armed) still gets go-libvirt's records.
func TestStatsTap(t *testing.T) {
	recs := statsRecords()
	good := xdrStatsReply(recs)
	want, err := decodeStatsReply(good)
	if err != nil {
		t.Fatal(err)
	}
	event := rpcPacket{program: rpcRemoteProgram, version: 1, proc: 354, typ: rpcTypeMessage,
		body: append(make([]byte, 8), make([]byte, 20)...)}
	errBody := make([]byte, 64) // virNetMessageError: code 1 (VIR_ERR_INTERNAL_ERROR), the rest empty
	errBody[3] = 1
	for _, chunk := range []int{1, 3, 29, 1 << 20} {
		t.Run(fmt.Sprintf("chunks of %d", chunk), func(t *testing.T) {
			var mu sync.Mutex
			answer := "good"
			holding := make(chan struct{}, 1)
			cli, srv := net.Pipe()
			defer srv.Close()
			go statsDaemon(srv, chunk, func(serial uint32) []rpcPacket {
				mu.Lock()
				defer mu.Unlock()
				switch answer {
				case "error":
					r := statsReply(serial, errBody)
					r.status = 1
					return []rpcPacket{event, r}
				case "malformed":
					return []rpcPacket{statsReply(serial, good[:len(good)-3])}
				}
				return []rpcPacket{event, statsReply(serial, good)}
			}, holding)
			dial := func(context.Context) (net.Conn, error) { return cli, nil }
			c, err := openConn(context.Background(), dial, "test:///default", nil, time.Minute, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			defer c.kill(errors.New("test done"))
			stats := func() ([]statsRecord, error) {
				return c.allDomainStats(c.l, statsGroups, libvirt.ConnectGetAllDomainsStatsNowait)
			}
			// Another call in flight: answered after the stats reply.
			other := make(chan error, 1)
			go func() { _, err := c.l.ConnectGetLibVersion(); other <- err }()
			<-holding
			if got, err := stats(); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("stats: err %v, records equal %v", err, reflect.DeepEqual(got, want))
			}
			if err := <-other; err != nil {
				t.Errorf("the other call: %v", err)
			}
			for _, a := range []string{"error", "malformed"} {
				mu.Lock()
				answer = a
				mu.Unlock()
				if got, err := stats(); err == nil || connLost(err) {
					t.Errorf("%s reply: %d records, err %v", a, len(got), err)
				}
			}
			mu.Lock()
			answer = "good"
			mu.Unlock()
			if got, err := stats(); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("stats after: err %v", err)
			}
			// Not armed: go-libvirt's own decoding.
			direct, err := c.l.ConnectGetAllDomainStats(nil, uint32(statsGroups), 0)
			if err != nil || len(direct) != len(recs) {
				t.Errorf("direct call: %d records, err %v", len(direct), err)
			}
		})
	}
}

// qemuHostReply is the stats reply of a host of n running QEMU domains.
func qemuHostReply(n int) []byte {
	recs := make([]libvirt.DomainStatsRecord, n)
	for i := range recs {
		recs[i] = libvirt.DomainStatsRecord{Dom: libvirt.Domain{Name: fmt.Sprintf("vm-%d", i), UUID: libvirt.UUID{byte(i)}, ID: int32(i)},
			Params: qemuStatsParams()}
	}
	return xdrStatsReply(recs)
}

// BenchmarkStatsCall: one host's stats call of 50 QEMU domains over a pipe to a fake
// daemon, the reply decoded by the tap next to go-libvirt's decoding and
// parseDomainStats (the pipe's cost is in both).
func BenchmarkStatsCall(b *testing.B) {
	body := qemuHostReply(50)
	cli, srv := net.Pipe()
	defer srv.Close()
	go statsDaemon(srv, 1<<20, func(serial uint32) []rpcPacket { return []rpcPacket{statsReply(serial, body)} }, nil)
	c, err := openConn(context.Background(), func(context.Context) (net.Conn, error) { return cli, nil }, "test:///default", nil, time.Minute, time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	defer c.kill(errors.New("done"))
	b.Run("tap", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if out, err := c.allDomainStats(c.l, statsGroups, 0); err != nil || len(out) != 50 {
				b.Fatal(len(out), err)
			}
		}
	})
	b.Run("go-libvirt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rs, err := c.l.ConnectGetAllDomainStats(nil, uint32(statsGroups), 0)
			if err != nil || len(rs) != 50 {
				b.Fatal(len(rs), err)
			}
			var p statsParser
			for _, r := range rs {
				_ = parseDomainStats(&p, UUID(r.Dom.UUID), r.Params)
			}
		}
	})
}

// BenchmarkDecodeStatsReply: one host's poll of 50 QEMU domains, off the wire next to
// go-libvirt's decoding and parseDomainStats.
func BenchmarkDecodeStatsReply(b *testing.B) {
	body := qemuHostReply(50)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeStatsReply(body); err != nil {
			b.Fatal(err)
		}
	}
}

// statsRecorder keeps the body of every successful stats reply read through it.
type statsRecorder struct {
	net.Conn
	f      frames
	on     bool
	bodies [][]byte
}

func (r *statsRecorder) Read(b []byte) (int, error) {
	n, err := r.Conn.Read(b)
	for p := b[:n]; len(p) > 0; {
		k, header, body, end := r.f.next(p)
		p = p[k:]
		if header {
			r.on = r.f.program() == rpcRemoteProgram && r.f.proc() == rpcProcGetAllDomainStats &&
				r.f.typ() == rpcTypeReply && r.f.status() == rpcStatusOK
			if r.on {
				r.bodies = append(r.bodies, nil)
			}
		}
		if r.on {
			r.bodies[len(r.bodies)-1] = append(r.bodies[len(r.bodies)-1], body...)
		}
		if end {
			r.on = false
		}
	}
	return n, err
}

// checkStatsDecode makes a stats call to the local libvirtd's driverURI through plain
// go-libvirt and checks that the reply decoded off the wire is what go-libvirt's
// decoding of the same bytes and parseDomainStats give. It returns the records.
func checkStatsDecode(t *testing.T, driverURI string, stats libvirt.DomainStatsTypes, flags libvirt.ConnectGetAllDomainStatsFlags) []statsRecord {
	t.Helper()
	raw, err := net.Dial("unix", systemSocket)
	if err != nil {
		t.Fatal(err)
	}
	rec := &statsRecorder{Conn: raw}
	l := libvirt.NewWithDialer(dialers.NewAlreadyConnected(rec))
	if err := l.ConnectToURI(libvirt.ConnectURI(driverURI)); err != nil {
		t.Fatal(err)
	}
	defer l.Disconnect()
	recs, err := l.ConnectGetAllDomainStats(nil, uint32(stats), uint32(flags))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.bodies) != 1 {
		t.Fatalf("%d stats replies recorded, want 1", len(rec.bodies))
	}
	got, err := decodeStatsReply(rec.bodies[0])
	if err != nil {
		t.Fatal(err)
	}
	want := make([]statsRecord, 0, len(recs))
	var p statsParser
	for _, r := range recs {
		want = append(want, statsRecord{Dom: r.Dom, Stats: parseDomainStats(&p, UUID(r.Dom.UUID), r.Params)})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: off the wire\n %+v\ngo-libvirt and parseDomainStats\n %+v", driverURI, got, want)
	}
	return got
}

// TestDecodeStatsReplyLibvirtd: libvirtd's own reply (test driver) decodes as
// go-libvirt decodes it, and the supervisor's poll (through the tap) reads the same.
func TestDecodeStatsReplyLibvirtd(t *testing.T) {
	requireLibvirtd(t)
	node := writeNode(t, t.TempDir())
	recs := checkStatsDecode(t, "test://"+node, statsGroups, libvirt.ConnectGetAllDomainsStatsNowait)
	if len(recs) == 0 {
		t.Fatal("no records")
	}
	sink := newFakeSink()
	s := startSupervisor(t, Config{Name: "wire", URI: "test+unix://" + node, StatsInterval: time.Hour}, sink)
	testkit.WaitFor(t, 90*time.Second, "host up", func() bool { return sink.lastHealth().Status == Up })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := s.PollStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		got := statsOf(st, r.Stats.UUID)
		got.Addrs = nil // the address round's
		if !reflect.DeepEqual(got, r.Stats) {
			t.Errorf("%s: polled %+v, want %+v", r.Dom.Name, got, r.Stats)
		}
	}
}

// FuzzStatsTapStream: whatever a connection brings, the framing follower with a stats
// call armed neither panics nor keeps more than the stream held.
func FuzzStatsTapStream(f *testing.F) {
	body := xdrStatsReply(statsRecords())
	f.Add(append(statsReply(9, body).bytes(), statsReply(9, body[:10]).bytes()...), uint8(3))
	f.Add(rpcPacket{program: rpcRemoteProgram, proc: rpcProcGetAllDomainStats, typ: rpcTypeReply, serial: 9, body: []byte{0, 0, 0, 5}}.bytes(), uint8(1))
	f.Add([]byte{0, 0, 0, 1, 0x20, 0, 0x80, 0x86}, uint8(0))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		var w openReplyWatch
		w.stats = statsTap{armed: true, sent: true, serial: 9}
		for s := stream; len(s) > 0; {
			k := min(int(chunk)+1, len(s))
			w.feed(s[:k])
			s = s[k:]
		}
		if len(w.stats.recs)*28 > len(stream) || len(w.stats.body) > len(stream) {
			t.Fatalf("%d records, %d body bytes kept from a %d-byte stream", len(w.stats.recs), len(w.stats.body), len(stream))
		}
	})
}

// TestStatsTapZeroesCount: the armed reply reaches go-libvirt with a record count of 0,
// however split, and is decoded whole; a reply to another serial passes untouched.
func TestStatsTapZeroesCount(t *testing.T) {
	body := xdrStatsReply(statsRecords())
	want, err := decodeStatsReply(body)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{1, 2, 3, 29, 1 << 20} {
		other := statsReply(8, body).bytes()
		armed := statsReply(9, body).bytes()
		var w openReplyWatch
		w.stats = statsTap{armed: true, sent: true, serial: 9}
		for _, s := range [][]byte{other, armed} {
			for len(s) > 0 {
				k := min(chunk, len(s))
				w.feed(s[:k])
				s = s[k:]
			}
		}
		if binary.BigEndian.Uint32(armed[28:]) != 0 || binary.BigEndian.Uint32(other[28:]) != uint32(len(want)) {
			t.Errorf("chunks of %d: counts passed up %d (armed) and %d (other)", chunk,
				binary.BigEndian.Uint32(armed[28:]), binary.BigEndian.Uint32(other[28:]))
		}
		if !w.stats.done || w.stats.err != nil || !reflect.DeepEqual(w.stats.recs, want) {
			t.Errorf("chunks of %d: done %v, err %v", chunk, w.stats.done, w.stats.err)
		}
	}
}
