package hosts

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// BenchmarkCall measures this process's CPU per libvirt call on one test-driver
// connection through the local libvirtd (cpu-us/op, from getrusage: libvirtd's share
// is not in it), for a call run on the caller's goroutine (the session's polls) and in
// a goroutine of its own (an SNMP request's). go test -run - -bench Call ./hosts
func BenchmarkCall(b *testing.B) {
	if _, err := os.Stat(systemSocket); err != nil {
		b.Skipf("SKIPPING: no libvirtd at %s", systemSocket)
	}
	doc, err := os.ReadFile("testdata/node.xml")
	if err != nil {
		b.Fatal(err)
	}
	path := b.TempDir() + "/node.xml"
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		b.Fatal(err)
	}
	ctx, _, c := benchConn(b, path)
	calls := map[string]func(*lv) (int, error){
		"version": func(l *lv) (int, error) { v, err := l.ConnectGetLibVersion(); return int(v), err },
		"stats": func(l *lv) (int, error) {
			r, err := l.ConnectGetAllDomainStats(nil, uint32(statsGroups), 0)
			return len(r), err
		},
		"addresses": func(l *lv) (int, error) {
			d, err := l.DomainLookupByUUID(libvirt.UUID(fixRunning))
			if err != nil {
				return 0, err
			}
			ifs, err := l.DomainInterfaceAddresses(d, uint32(AddrLease), 0)
			if err != nil && !strings.Contains(err.Error(), "etwork") {
				return 0, err
			}
			return len(ifs), nil
		},
	}
	for _, call := range []string{"version", "stats", "addresses"} {
		for _, mode := range []string{"inline", "goroutine"} {
			b.Run(call+"/"+mode, func(b *testing.B) {
				cctx, ccancel := context.WithCancel(ctx)
				defer ccancel()
				if mode == "inline" {
					cctx = withSession(cctx, c)
				}
				b.ReportAllocs()
				t0 := cpuTime()
				for b.Loop() {
					if _, err := callT(cctx, c, call, calls[call]); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(cpuTime()-t0)/float64(time.Microsecond)/float64(b.N), "cpu-us/op")
			})
		}
	}
}

// benchConn runs a supervisor of the test-driver node at path until the benchmark
// ends, and returns, once its first stats round is reported, a context that ends with
// it, its sink and its connection.
func benchConn(b *testing.B, path string) (context.Context, *fakeSink, *conn) {
	b.Helper()
	sink := newFakeSink()
	s, err := New(Config{Name: "bench", URI: "test+unix://" + path, KeepaliveInterval: time.Hour,
		KeepaliveTimeout: 5 * time.Second, StatsInterval: time.Hour}, sink, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	var c *conn
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err = s.conn()
		if _, _, _, n := sink.counts(); c != nil && n > 0 {
			return ctx, sink, c
		}
		if time.Now().After(deadline) {
			b.Fatalf("no stats round within 30 s: %v", err)
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
