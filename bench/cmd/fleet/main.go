// Command fleet benchmarks vmgate against a fleet of libvirt test-driver hosts served
// by the local libvirtd (default 100 hosts x 100 VMs), running the gateway in-process
// (gateway.New + Run, as cmd/vmgate does) so the view can be observed directly and a
// CPU profile taken with runtime/pprof. Phases, each printed next to a peer measured in
// the same run:
//
//	view     time to the first full view (every host Up, synced, all its VMs)
//	floor    the same view read with plain go-libvirt in a child process (every host at
//	         once, one stats call, the XMLs 3 in flight per host), printed next to the
//	         view: before it when listed before view, else after the other phases with
//	         the gateway stopped
//	peer     virsh list --all / domstats over every host, one after the other
//	steady   gateway and libvirtd CPU over -steady with stats_interval 10s; RSS
//	latency  virsh suspend/resume of a real QEMU VM -> the view (and vmState over SNMP)
//	         showing it, next to virsh event's own timestamps
//	walk     snmpbulkwalk -v2c -Cr25 of virtualMachinesTable and of the whole module,
//	         next to snmpd's hrSWRunTable (-snmpd ADDR -snmpd-pid PID)
//
// It prints figures, and PASS/MISS against the targets: a benchmark verdict, not a test.
// Everything listens on 127.0.0.1; every VM it defines is undefined on exit.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vmgate/vmgate/bench/internal/fleet"
	"github.com/vmgate/vmgate/bench/internal/proc"
	"github.com/vmgate/vmgate/bench/internal/workdir"
	"github.com/vmgate/vmgate/gateway"
)

type options struct {
	hosts, vms  int
	steady      time.Duration
	cycles      int
	phases      map[string]bool
	snmpdAddr   string
	snmpdPID    int
	snmpdMin    int
	walkTimeout time.Duration
	cpuprofile  string
	viewprof    string
	steadyprof  string
	memprofile  string
	steadymem   string
	keep        bool
	floorFirst  bool   // the floor phase runs before the gateway starts
	rows        string // the file the floor's scale table row is appended to
}

func main() {
	var o options
	var phases string
	flag.IntVar(&o.hosts, "hosts", 100, "test-driver hosts")
	flag.IntVar(&o.vms, "vms", 100, "VMs per host")
	flag.DurationVar(&o.steady, "steady", 60*time.Second, "steady-state CPU window")
	flag.IntVar(&o.cycles, "cycles", 30, "suspend/resume cycles of the QEMU VM")
	flag.StringVar(&phases, "phases", "view,floor,peer,steady,latency,walk", "phases to run (view always runs; floor before view runs first)")
	flag.StringVar(&o.snmpdAddr, "snmpd", "", "net-snmp snmpd to walk as the peer, HOST:PORT (walk phase)")
	flag.IntVar(&o.snmpdPID, "snmpd-pid", 0, "snmpd's pid, for its CPU")
	flag.IntVar(&o.snmpdMin, "snmpd-min", 50000, "walk snmpd's hrSWRunTable until this many varbinds (at least as many as the vmgate table walk)")
	flag.DurationVar(&o.walkTimeout, "walk-timeout", 120*time.Second, "bound of one snmpbulkwalk")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the vmgate walks to `FILE`")
	flag.StringVar(&o.viewprof, "viewprofile", "", "write a CPU profile of the process from the gateway's start to its first full view to `FILE`")
	flag.StringVar(&o.steadyprof, "steadyprofile", "", "write a CPU profile of the gateway over the steady window to `FILE`")
	flag.StringVar(&o.memprofile, "memprofile", "", "write a heap profile of the gateway after its first full view to `FILE`")
	flag.StringVar(&o.steadymem, "steadymemprofile", "", "write a heap profile of the gateway after the steady window (and a GC) to `FILE`")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (node files, config, gateway log)")
	flag.StringVar(&o.rows, "rows", "", "append the floor phase's row of bench/run scale's table to `FILE`")
	floorChildMode := flag.Bool("floor-child", false, "internal: be the floor phase's client over the node files of -floor-nodes")
	floorNodes := flag.String("floor-nodes", "", "internal: the node files' directory, with -floor-child")
	flag.Parse()
	if *floorChildMode {
		if err := floorChild(fleet.Fleet{Dir: *floorNodes, Hosts: o.hosts, VMs: o.vms}); err != nil {
			fmt.Fprintln(os.Stderr, "fleet: floor:", err)
			os.Exit(1)
		}
		return
	}
	if o.memprofile != "" || o.steadymem != "" {
		runtime.MemProfileRate = 4096 // fine enough to split a few KiB per VM by component
	}
	o.phases, o.floorFirst = parsePhases(phases)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

// bench holds what the phases share.
type bench struct {
	o      options
	fleet  fleet.Fleet
	work   string
	g      *gateway.Gateway
	cfg    string    // the config file
	addr   string    // the agent's udp address
	start  time.Time // just before gateway.New
	steady float64   // gateway CPU seconds per second in steady state (0: not measured)

	libvirtdRSS0 uint64       // libvirtd's VmRSS (KiB) when the bench started
	viewRes      *viewResult  // the gateway's first full view
	floorRes     *floorResult // the floor phase's, if run
}

// parsePhases reads -phases: the set (view always in it), and whether floor comes
// before view.
func parsePhases(list string) (set map[string]bool, floorFirst bool) {
	set = map[string]bool{"view": true}
	names := strings.Split(list, ",")
	for i := range names {
		names[i] = strings.TrimSpace(names[i])
		set[names[i]] = true
	}
	f, v := slices.Index(names, "floor"), slices.Index(names, "view")
	return set, f >= 0 && v > f
}

func run(ctx context.Context, o options) error {
	work, cleanup, err := workdir.Make("vmgate-fleet.", o.keep)
	if err != nil {
		return err
	}
	defer cleanup()
	b := &bench{o: o, work: work, fleet: fleet.Fleet{Dir: filepath.Join(work, "nodes"), Hosts: o.hosts, VMs: o.vms}}
	if err := b.fleet.Write(); err != nil {
		return err
	}
	fmt.Printf("vmgate fleet benchmark, %s, %d CPUs, %s, %d hosts x %d VMs (libvirt test driver via the local libvirtd)\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), runtime.Version(), o.hosts, o.vms)
	lpid := proc.LibvirtdPID()
	if lpid > 0 {
		b.libvirtdRSS0, _, _ = memStatus(strconv.Itoa(lpid))
	}
	fmt.Printf("libvirtd before the run: %s\n", libvirtdMem(lpid))
	if o.phases["floor"] && o.floorFirst {
		if err := b.floor(ctx); err != nil {
			return fmt.Errorf("floor: %w", err)
		}
	}

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var done <-chan struct{}
	err = profile(b.o.viewprof, func() error {
		var err error
		if done, err = b.startGateway(ctx); err != nil {
			return err
		}
		return b.firstView(ctx)
	})
	if done != nil {
		defer func() { cancel(); <-done }()
	}
	if err != nil {
		return err
	}
	if b.o.viewprof != "" {
		fmt.Printf("CPU profile to the first view: %s (go tool pprof -top %s)\n", b.o.viewprof, b.o.viewprof)
	}
	if err := b.heapProfile(); err != nil {
		return err
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"peer", b.peer}, {"steady", b.steadyState}, {"walk", b.walks}, {"latency", b.latency},
	}
	for _, s := range steps {
		if !o.phases[s.name] {
			continue
		}
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if o.phases["floor"] && !o.floorFirst {
		cancel() // the gateway's connections closed: libvirtd serves the floor alone
		<-done
		if err := b.floor(parent); err != nil {
			return fmt.Errorf("floor: %w", err)
		}
	}
	return b.overFloor()
}

// startGateway writes the config and runs the gateway in this process. The returned
// channel is closed when Run has returned.
func (b *bench) startGateway(ctx context.Context) (<-chan struct{}, error) {
	b.cfg = filepath.Join(b.work, "vmgate.yaml")
	if err := os.WriteFile(b.cfg, []byte(b.config(false)), 0o600); err != nil {
		return nil, err
	}
	cfg, err := gateway.LoadConfig(b.cfg)
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(b.work, "vmgate.log"))
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b.start = time.Now()
	g, err := gateway.New(cfg, logger, gateway.Options{Version: "fleet-bench"})
	if err != nil {
		logf.Close()
		return nil, err
	}
	b.g = g
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer logf.Close()
		if err := g.Run(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "fleet: gateway:", err)
		}
	}()
	select {
	case <-g.Engine().Ready():
	case <-done:
		return nil, fmt.Errorf("gateway stopped before serving (log: %s)", logf.Name())
	}
	b.addr = g.Addrs()[0].String()
	return done, nil
}

// config renders the gateway configuration: the fleet, and the local qemu:///system
// as host "local" when withLocal.
func (b *bench) config(withLocal bool) string {
	var s strings.Builder
	fmt.Fprintf(&s, `snmp:
  listen: ["udp:127.0.0.1:0"]
  state_dir: %s
  communities:
    - {community: public, access: read-only, context: ""}
  # The walks ask for 25 and 100 repetitions: above the community caps' defaults (10,
  # 1,472 bytes), which would answer 10 varbinds per request.
  community_max_repetitions: 100
  community_max_message_size: 65507
# /metrics: the steady phase reads the calls by procedure from it.
http:
  listen: "127.0.0.1:0"
hosts:
`, filepath.Join(b.work, "state"))
	for h := range b.fleet.Hosts {
		fmt.Fprintf(&s, "  - {name: %s, uri: %q, stats_interval: 10s}\n", fleet.HostName(h), b.fleet.URI(h))
	}
	if withLocal {
		fmt.Fprintf(&s, "  - {name: local, uri: \"qemu:///system\", stats_interval: 10s, call_timeout: 3m}\n")
	}
	return s.String()
}

// profile runs fn under a CPU profile written to file, if any (-cpuprofile for the
// walks, -viewprofile for the first view, -steadyprofile for the steady window).
func profile(file string, fn func() error) error {
	if file == "" {
		return fn()
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	return fn()
}

// heapProfile prints the heap and RSS per VM once the first view is complete and, with
// -memprofile, writes the heap profile (go tool pprof -sample_index=inuse_space).
func (b *bench) heapProfile() error {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	rss, hwm, err := memStatus("self")
	if err != nil {
		return err
	}
	vms := float64(b.fleet.Hosts * b.fleet.VMs)
	fmt.Printf("memory after the first view (after a GC): VmRSS %.1f MiB = %.2f KiB per VM, Go heap in use %.1f MiB = %.2f KiB per VM\n",
		float64(rss)/1024, float64(rss)/vms, float64(m.HeapInuse)/(1<<20), float64(m.HeapInuse)/1024/vms)
	fmt.Printf("                       peak VmHWM %.1f MiB = %.2f KiB per VM; %s\n", float64(hwm)/1024, float64(hwm)/vms, memSplit(&m))
	return writeHeapProfile(b.o.memprofile)
}

// writeHeapProfile writes the heap profile to file, if any, after a GC
// (go tool pprof -sample_index=inuse_space).
func writeHeapProfile(file string) error {
	if file == "" {
		return nil
	}
	runtime.GC()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		return err
	}
	fmt.Printf("heap profile: %s (go tool pprof -sample_index=inuse_space -top %s)\n", file, file)
	return nil
}
