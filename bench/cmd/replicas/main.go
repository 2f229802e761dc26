// Command replicas benchmarks vmgate replicas sharing an etcd registry (issue 9, item
// 10): vmgate processes (the built binary) on libvirt test-driver hosts served by the
// local libvirtd, a three-member etcd (Debian's etcd-server) on loopback started by the
// bench, net-snmp's tools as the manager. Phases, each printed next to its peer or
// target:
//
//	failover  two replicas; SIGKILL replica A; time from the kill to the first complete
//	          walk of virtualMachinesTable through B identical (indexes and configuration
//	          columns) to the walk through A before the kill: (a) the manager switches
//	          its target to B; (b) a virtual address moves from A's network namespace
//	          to B's (what keepalived does), the manager keeps asking it
//	setlat    SET latency (vmState paused/running on a test-driver VM), a file-backed
//	          gateway and a replica on etcd in turn, in the same run
//	join      replica A serves a cluster (default 100 hosts x 100 VMs); replica B starts
//	          fresh: time until B serves identical indexes, next to B's own libvirt
//	          resync and to a fresh file-backed gateway's
//
// It prints figures and PASS/MISS against the targets: a benchmark verdict, not
// a test. Every process it starts is killed on exit.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/vmgate/vmgate/bench/internal/fleet"
	"github.com/vmgate/vmgate/bench/internal/proc"
	"github.com/vmgate/vmgate/bench/internal/workdir"
)

type options struct {
	bin              string
	before           string // setlat: a binary of an earlier tree, measured in the same run
	phases           map[string]bool
	hosts, vms       int // failover and setlat fleet
	joinHosts        int
	joinVMs          int
	pairs            int // setlat pause/resume pairs per backend
	commit           string
	keep             bool
	netns            string // name prefix of the VIP phase's network namespaces
	vipNet           string // its addresses: a /24 of 10.213.0.0/16, the testbed's range
	joinLimit, limit time.Duration
}

func main() {
	var o options
	var phases string
	flag.StringVar(&o.bin, "vmgate", "bench/out/vmgate", "the vmgate binary")
	flag.StringVar(&o.before, "before", "", "setlat: also measure replicas of this vmgate `binary` (an earlier tree), in turn with the others")
	flag.StringVar(&phases, "phases", "failover,vip,setlat,join", "phases to run")
	flag.IntVar(&o.hosts, "hosts", 10, "test-driver hosts of the failover and setlat phases")
	flag.IntVar(&o.vms, "vms", 100, "VMs per host of the failover and setlat phases")
	flag.IntVar(&o.joinHosts, "join-hosts", 100, "test-driver hosts of the join phase")
	flag.IntVar(&o.joinVMs, "join-vms", 100, "VMs per host of the join phase")
	flag.IntVar(&o.pairs, "n", 100, "pause/resume pairs per backend (setlat)")
	flag.StringVar(&o.commit, "commit", "", "the measured tree's commit, printed")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (configs, logs, etcd data)")
	flag.StringVar(&o.netns, "netns", "vgbench9", "name prefix of the VIP phase's network namespaces")
	flag.StringVar(&o.vipNet, "vip-net", "10.213.254", "the VIP phase's /24 (three octets)")
	flag.DurationVar(&o.limit, "limit", 3*time.Minute, "bound of a gateway's first full view (failover, setlat)")
	flag.DurationVar(&o.joinLimit, "join-limit", 5*time.Minute, "bound of a gateway's first full view (join)")
	flag.Parse()
	o.phases = map[string]bool{}
	for _, p := range strings.Split(phases, ",") {
		o.phases[strings.TrimSpace(p)] = true
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "replicas:", err)
		os.Exit(1)
	}
}

// bench holds what the phases share.
type bench struct {
	o    options
	work string
	etcd *etcdCluster
	m    *manager
	gws  []*gw // every gateway started, killed at the end
}

func run(ctx context.Context, o options) error {
	work, done, err := workdir.Make("vmgate-replicas.", o.keep)
	if err != nil {
		return err
	}
	defer done()
	b := &bench{o: o, work: work}
	defer func() {
		b.stopGateways()
		if b.etcd != nil {
			b.etcd.stop()
		}
	}()
	if b.m, err = newManager(filepath.Join(work, "manager")); err != nil {
		return err
	}
	fmt.Printf("vmgate replicas benchmark, %s, commit %s, %d CPUs, %s; load before: %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), o.commit, runtime.NumCPU(), runtime.Version(), proc.Loadavg())
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{{"failover", b.failover}, {"vip", b.vip}, {"setlat", b.setlat}, {"join", b.join}}
	for _, s := range steps {
		if !o.phases[s.name] {
			continue
		}
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		b.stopGateways()
	}
	fmt.Printf("\nload after: %s\n", proc.Loadavg())
	return nil
}

// ensureEtcd starts the etcd cluster on loopback the first time a phase needs it; it
// serves every phase after (each on its own prefix) and stops when the bench ends.
func (b *bench) ensureEtcd(ctx context.Context) error {
	if b.etcd != nil {
		return nil
	}
	dir := filepath.Join(b.work, "etcd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	c, err := startEtcd(ctx, dir, "127.0.0.1")
	if err != nil {
		return err
	}
	b.etcd = c
	return nil
}

// start starts a gateway and remembers it for stopGateways.
func (b *bench) start(f fleet.Fleet, c gwConfig) (*gw, error) {
	g, err := startGateway(b.o.bin, b.work, f, c)
	if err != nil {
		return nil, err
	}
	b.gws = append(b.gws, g)
	return g, nil
}

// fleet writes the node files of a fleet of hosts x vms under the work directory.
func (b *bench) fleet(name string, hosts, vms int) (fleet.Fleet, error) {
	f := fleet.Fleet{Dir: filepath.Join(b.work, name), Hosts: hosts, VMs: vms}
	return f, f.Write()
}

// stopGateways stops every gateway still running (SIGTERM).
func (b *bench) stopGateways() {
	for _, g := range b.gws {
		if g.running() {
			g.kill(syscall.SIGTERM)
		}
	}
	b.gws = nil
}

// verdict is PASS or MISS.
func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}
