package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/vmgate/vmgate/bench/internal/fleet"
	"github.com/vmgate/vmgate/bench/internal/lat"
	"github.com/vmgate/vmgate/mib"
)

// targetJoin: a joining replica serves identical indexes at most this long after
// its first libvirt resync.
const targetJoin = time.Second

// join: replica A serves the cluster; replica B starts fresh on the same etcd prefix.
// The time until B serves identical indexes (vmUUID by vmId) is printed next to B's
// own first libvirt resync (its log) and to a fresh file-backed gateway's start on
// the same hosts, measured the same way while A still runs.
func (b *bench) join(ctx context.Context) error {
	if err := b.ensureEtcd(ctx); err != nil {
		return err
	}
	f, err := b.fleet("nodes-join", b.o.joinHosts, b.o.joinVMs)
	if err != nil {
		return err
	}
	want := f.Hosts * f.VMs
	fmt.Printf("\n== join: replica B starts fresh next to replica A serving %d hosts x %d VMs\n", f.Hosts, f.VMs)
	a, err := b.startJoin(f, "join-a", true)
	if err != nil {
		return err
	}
	if err := b.m.waitServing(ctx, a, want, b.o.joinLimit); err != nil {
		return err
	}
	uuids, _ := mib.Lookup("vmUUID")
	root := uuids.String()
	ref, err := b.m.walk(ctx, a.addr, root, patient)
	if err != nil {
		return err
	}
	if len(ref) != want {
		return fmt.Errorf("replica a serves %d vmUUIDs, want %d", len(ref), want)
	}
	fmt.Printf("%-40s %d VMs served by A %.1f s after its start\n", "A (first replica, empty registry):", want,
		time.Since(a.started).Seconds())
	for _, r := range []struct {
		name string
		etcd bool
	}{{"join-b", true}, {"join-file", false}} {
		g, err := b.startJoin(f, r.name, r.etcd)
		if err != nil {
			return err
		}
		if err := b.timeJoin(ctx, g, want, ref, root); err != nil {
			return err
		}
		g.kill(syscall.SIGTERM)
	}
	return nil
}

func (b *bench) startJoin(f fleet.Fleet, name string, etcd bool) (*gw, error) {
	port, err := freeUDPPort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	c := gwConfig{name: name, listen: []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}}
	if etcd {
		c.etcd, c.prefix = b.etcd.endpoints, "/bench-join/"
	}
	return b.start(f, c)
}

// timeJoin waits until g serves want VMs, then walks vmUUID until the walk is ref
// (with etcd) or has want rows (a file-backed gateway numbers on its own), and prints
// the times from g's start next to its log's resyncs.
func (b *bench) timeJoin(ctx context.Context, g *gw, want int, ref []string, root string) error {
	if err := b.m.waitServing(ctx, g, want, b.o.joinLimit); err != nil {
		return err
	}
	counted := time.Since(g.started)
	var walkT time.Duration
	tries := 0
	err := poll(ctx, b.o.joinLimit, 0, func() bool {
		tries++
		t0 := time.Now()
		w, err := b.m.walk(ctx, g.addr, root, patient)
		walkT = time.Since(t0)
		if err != nil {
			return false
		}
		if g.name == "join-file" {
			return len(w) == want
		}
		ok, _ := same(ref, w)
		return ok
	})
	if err != nil {
		return fmt.Errorf("%s: no identical vmUUID walk: %w", g.name, err)
	}
	served := time.Since(g.started)
	st, err := g.startup()
	if err != nil {
		return err
	}
	last, durs := st.last, st.durs
	what := "B (replica on etcd, joins):"
	if g.name == "join-file" {
		what = "peer: a fresh file-backed gateway:"
	}
	fmt.Printf("%-40s all %d VMs in hypervisorVmCount %6.2f s; complete vmUUID walk %s %6.2f s (walk %.2f s, %d tries)\n",
		what, want, counted.Seconds(), map[bool]string{true: "identical to A's", false: "of every VM"}[g.name != "join-file"],
		served.Seconds(), walkT.Seconds(), tries)
	if len(durs) == 0 {
		return fmt.Errorf("%s: no resync in its log", g.name)
	}
	fmt.Printf("%-40s listening (index registry read) %.2f s after start; last of %d hosts resynced %6.2f s after start (per-host resync p50 %.0f ms, max %.0f ms; %d libvirt connections failed and retried)\n", "",
		st.listening.Seconds(), len(durs), last.Seconds(), ms(lat.Pct(durs, 50)), ms(lat.Pct(durs, 100)), st.connFailed)
	if g.name != "join-file" {
		fmt.Printf("%-40s identical indexes served %.2f s after its last resync (all counted: %+.2f s)   target <= %.0f s: %s\n", "",
			(served - last).Seconds(), (counted - last).Seconds(), targetJoin.Seconds(), verdict(counted-last <= targetJoin))
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
