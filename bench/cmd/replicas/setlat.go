package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/bench/internal/fleet"
	"github.com/vmgate/vmgate/bench/internal/lat"
	"github.com/vmgate/vmgate/bench/internal/target"
	"github.com/vmgate/vmgate/mib"
)

// targetSetAdded: a SET through a replica on etcd at most this much slower at p50
// than through a file-backed gateway.
const targetSetAdded = 5 * time.Millisecond

// setlat: vmState paused(4)/running(2) on a test-driver VM, through a file-backed
// gateway and through replica A of two on etcd, in turn, one SET in flight.
func (b *bench) setlat(ctx context.Context) error {
	if err := b.ensureEtcd(ctx); err != nil {
		return err
	}
	f, err := b.fleet("nodes-setlat", b.o.hosts, b.o.vms)
	if err != nil {
		return err
	}
	fmt.Printf("\n== SET latency: vmState paused/running of a test-driver VM, SNMPv3 authPriv, %d pairs per backend in turn\n",
		b.o.pairs)
	cfgs := []gwConfig{{name: "setlat-file"}, {name: "setlat-a", etcd: b.etcd.endpoints, prefix: "/bench-setlat/"},
		{name: "setlat-b", etcd: b.etcd.endpoints, prefix: "/bench-setlat/"}}
	if b.o.before != "" {
		cfgs = append(cfgs, gwConfig{name: "setlat-before-a", etcd: b.etcd.endpoints, prefix: "/bench-setlat-before/", bin: b.o.before},
			gwConfig{name: "setlat-before-b", etcd: b.etcd.endpoints, prefix: "/bench-setlat-before/", bin: b.o.before})
	}
	var gws []*gw
	for _, c := range cfgs {
		port, err := freeUDPPort("127.0.0.1")
		if err != nil {
			return err
		}
		c.listen = []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
		g, err := b.start(f, c)
		if err != nil {
			return err
		}
		gws = append(gws, g)
	}
	for _, g := range gws {
		if err := b.m.waitServing(ctx, g, f.Hosts*f.VMs, b.o.limit); err != nil {
			return err
		}
	}
	vm := "h000-vm000" // running, on host 0
	var setters []*setter
	for _, g := range append(gws[:2:2], gws[3:min(4, len(gws))]...) {
		s, err := b.newSetter(ctx, g, fleet.HostName(0), vm)
		if err != nil {
			return err
		}
		defer s.close()
		setters = append(setters, s)
	}
	// Warm-up: sessions, the etcd session and leases, caches.
	for _, s := range setters {
		for range 5 {
			s.pair()
		}
	}
	for _, s := range setters {
		s.lat, s.errs = nil, 0
	}
	for range b.o.pairs {
		for _, s := range setters {
			s.pair()
		}
	}
	floor, err := b.etcdFloor(ctx, 2*b.o.pairs)
	if err != nil {
		return err
	}
	file, etcd := setters[0], setters[1]
	type row struct {
		name string
		s    *setter
	}
	rows := []row{{"file backend", file}, {"etcd backend", etcd}}
	if len(setters) > 2 {
		rows = append(rows, row{"etcd, before", setters[2]})
	}
	for _, r := range rows {
		fmt.Printf("%-13s %s", r.name, lat.Summary(r.s.lat, r.s.errs))
		if r.s.errs > 0 {
			fmt.Printf(" (last error: %s)", r.s.lastErr)
		}
		fmt.Println()
	}
	fmt.Printf("etcd floor    %s\n", floor)
	if len(file.lat) == 0 || len(etcd.lat) == 0 {
		return fmt.Errorf("no SET succeeded")
	}
	if len(setters) > 2 && len(setters[2].lat) > 0 {
		fmt.Printf("etcd, before - file at p50: %.2f ms\n", ms(lat.Pct(setters[2].lat, 50)-lat.Pct(file.lat, 50)))
	}
	added := lat.Pct(etcd.lat, 50) - lat.Pct(file.lat, 50)
	fmt.Printf("etcd - file at p50: %.2f ms   target <= %.0f ms: %s\n", float64(added.Microseconds())/1000,
		float64(targetSetAdded.Milliseconds()), verdict(added <= targetSetAdded))
	return nil
}

// setter SETs vmState of one VM through one gateway and times each SET.
type setter struct {
	c       *gosnmp.GoSNMP
	oid     string
	lat     []time.Duration
	errs    int
	lastErr string
}

// newSetter finds vm's vmId at g (its vmName in the merged context) and opens an
// SNMPv3 authPriv session in the VM's host's context.
func (b *bench) newSetter(ctx context.Context, g *gw, host, vm string) (*setter, error) {
	o, _ := mib.Lookup("vmName")
	lines, err := b.m.walk(ctx, g.addr, o.String(), patient)
	if err != nil {
		return nil, err
	}
	id := ""
	for _, l := range lines {
		oid, val, _ := strings.Cut(l, " ")
		if strings.Trim(val, `"`) == vm {
			id = oid[strings.LastIndexByte(oid, '.')+1:]
		}
	}
	if id == "" {
		return nil, fmt.Errorf("%s: no VM %s", g.name, vm)
	}
	h, port, err := target.Parse(g.addr)
	if err != nil {
		return nil, err
	}
	st, _ := mib.Lookup("vmState")
	c := &gosnmp.GoSNMP{
		Target: h, Port: port, Version: gosnmp.Version3, Timeout: 10 * time.Second, Retries: 0,
		SecurityModel: gosnmp.UserSecurityModel, MsgFlags: gosnmp.AuthPriv, ContextName: host,
		SecurityParameters: &gosnmp.UsmSecurityParameters{UserName: user,
			AuthenticationProtocol: gosnmp.SHA256, AuthenticationPassphrase: authPass,
			PrivacyProtocol: gosnmp.AES, PrivacyPassphrase: privPass},
	}
	if err := c.Connect(); err != nil {
		return nil, err
	}
	return &setter{c: c, oid: st.String() + "." + id}, nil
}

func (s *setter) close() { _ = s.c.Conn.Close() }

// pair pauses, then resumes the VM, each SET timed alone.
func (s *setter) pair() {
	for _, state := range []int{4, 2} {
		t0 := time.Now()
		r, err := s.c.Set([]gosnmp.SnmpPDU{{Name: s.oid, Type: gosnmp.Integer, Value: state}})
		if err == nil && r.Error != gosnmp.NoError {
			err = fmt.Errorf("%v", r.Error)
		}
		if err != nil {
			s.errs++
			s.lastErr = err.Error()
			continue
		}
		s.lat = append(s.lat, time.Since(t0))
	}
}

// etcdFloor times n puts of a small value and n linearizable gets (a quorum read, as
// the coordinator's) on the bench's etcd, one in flight: what one etcd round trip costs in this run.
func (b *bench) etcdFloor(ctx context.Context, n int) (string, error) {
	cli, err := b.etcd.client()
	if err != nil {
		return "", err
	}
	defer cli.Close()
	var puts, gets []time.Duration
	for i := range n {
		t0 := time.Now()
		if _, err := cli.Put(ctx, "/bench-floor/k", strconv.Itoa(i)); err != nil {
			return "", err
		}
		puts = append(puts, time.Since(t0))
		t0 = time.Now()
		if _, err := cli.Get(ctx, "/bench-floor/k"); err != nil {
			return "", err
		}
		gets = append(gets, time.Since(t0))
	}
	return fmt.Sprintf("put p50_us=%d p90_us=%d, linearizable get p50_us=%d p90_us=%d",
		lat.Pct(puts, 50).Microseconds(), lat.Pct(puts, 90).Microseconds(),
		lat.Pct(gets, 50).Microseconds(), lat.Pct(gets, 90).Microseconds()), nil
}
