package snmp

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// recorder is a slog.Handler keeping every record, for tests that count log lines.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}

// lines returns the records with message msg, and the suppressed count of each.
func (r *recorder) lines(msg string, level slog.Level) (suppressed []int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.records {
		if rec.Message != msg || rec.Level < level {
			continue
		}
		var n int64
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "suppressed" {
				n = a.Value.Int64()
			}
			return true
		})
		suppressed = append(suppressed, n)
	}
	return suppressed
}

// TestPeerLogFlood: a flood of unauthenticated or unauthorized packets logs one line
// per reason, then one per interval with the count it held back; the counters count all.
func TestPeerLogFlood(t *testing.T) {
	rec := &recorder{}
	cfg := baseConfig(t)
	e, err := New(cfg, WithLogger(slog.New(rec)))
	if err != nil {
		t.Fatal(err)
	}
	e.SetContexts([]string{"kvm1"})
	clock := time.Unix(1000, 0)
	e.plog.now = func() time.Time { return clock }
	id := e.EngineID()
	ro, rw, cluster := cfg.Users[0], cfg.Users[1], cfg.Users[2]
	wrongAuth, wrongPriv := wrongPassphrases(ro, rw)
	const n = 300
	tests := []struct {
		name    string
		req     rawV3
		msg     string
		counter func() uint32
	}{
		{"wrong digest", rawV3{user: wrongAuth, flags: gosnmp.AuthNoPriv}, "snmp v3 authentication failed", e.cnt.wrongDigests.Load},
		{"wrong priv key", rawV3{user: wrongPriv, flags: gosnmp.AuthPriv}, "snmp v3 decryption failed", e.cnt.decryptionErrors.Load},
		{"context not allowed", rawV3{user: cluster, flags: gosnmp.AuthNoPriv, context: "kvm1"}, "snmp v3 request not authorized", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.engineID, tt.req.boots, tt.req.time = id, e.Boots(), e.engineTime()
			tt.req.flags |= gosnmp.Reportable
			raw := tt.req.build(t, "1.3.6.1.2.1.1.5.0")
			send := func(k int) {
				for range k {
					if out := e.handlePacket(context.Background(), raw, nil, maxUDPPayload); out == nil {
						t.Fatal("no answer")
					}
				}
			}
			send(n)
			if got := rec.lines(tt.msg, slog.LevelDebug); len(got) != 1 || got[0] != 0 {
				t.Fatalf("%d packets logged %v (suppressed counts), want one line", n, got)
			}
			if tt.counter != nil && tt.counter() != n {
				t.Errorf("counter %d, want %d", tt.counter(), n)
			}
			clock = clock.Add(peerLogInterval)
			send(1)
			if got := rec.lines(tt.msg, slog.LevelDebug); len(got) != 2 || got[1] != n-1 {
				t.Fatalf("after the interval: %v, want a second line with suppressed=%d", got, n-1)
			}
		})
	}
}

// TestEndOfContentsValue: a request whose varbind value is BER EndOfContents (00 00),
// not an SNMP type, is answered (the value as NULL) and logs no error.
func TestEndOfContentsValue(t *testing.T) {
	rec := &recorder{}
	e, err := New(baseConfig(t), WithLogger(slog.New(rec)))
	if err != nil {
		t.Fatal(err)
	}
	vb := appendTLV(nil, 0x06, []byte{0x2b, 6, 1, 2, 1, 1, 5, 0}) // sysName.0
	vb = append(vb, 0x00, 0x00)
	vbl := appendTLV(nil, 0x30, appendTLV(nil, 0x30, vb))
	tests := []struct {
		name      string
		version   int64
		community string
		tag       gosnmp.PDUType
		want      gosnmp.SNMPError
	}{
		{"v2c GET", wireV2c, "public", gosnmp.GetRequest, gosnmp.NoError},
		{"v2c SET, read-only", wireV2c, "public", gosnmp.SetRequest, gosnmp.NoAccess},
		{"v1 SET, read-only", wireV1, "public", gosnmp.SetRequest, gosnmp.NoSuchName},
		{"v2c SET, read-write", wireV2c, "private", gosnmp.SetRequest, gosnmp.NotWritable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := appendBERInt(nil, 7)
			body = appendBERInt(body, 0)
			body = appendBERInt(body, 0)
			pdu := appendTLV(nil, byte(tt.tag), append(body, vbl...))
			env := appendBERInt(nil, tt.version)
			env = appendTLV(env, 0x04, []byte(tt.community))
			out := e.handlePacket(context.Background(), appendTLV(nil, 0x30, append(env, pdu...)), nil, maxUDPPayload)
			if out == nil {
				t.Fatal("no answer")
			}
			pkt, err := (&gosnmp.GoSNMP{Version: gosnmp.Version2c}).SnmpDecodePacket(out)
			if err != nil {
				t.Fatalf("answer not decodable: %v", err)
			}
			if pkt.Error != tt.want || len(pkt.Variables) != 1 {
				t.Errorf("status %v, %d varbinds; want %v and one", pkt.Error, len(pkt.Variables), tt.want)
			}
		})
	}
	if got := rec.lines("snmp response not encodable", slog.LevelDebug); len(got) != 0 {
		t.Errorf("logged %d encoding errors", len(got))
	}
}
