// Command scrape benchmarks the Prometheus kit at fleet scale (issue 14, item 3): one
// vmgate serving libvirt test-driver hosts (default 100 hosts x 100 VMs) through the local
// libvirtd, and Debian's prometheus-snmp-exporter with deploy/prometheus/snmp.yml scraping
// every host context (module vmgate@HOST) the way Prometheus does, all targets at once at
// the start of each interval (default 60 s), for a few rounds. Next to it, in the same
// run, Debian's prometheus-libvirt-exporter, one instance per host URI, scraped the same
// way (vmgate stopped by then).
//
// Per round it prints the per-target scrape time (p50/p90/max), whether every target
// answered completely within the interval, the exporters' CPU, vmgate's (or libvirtd's)
// CPU, varbinds and samples, and at the end a PASS/MISS verdict: a benchmark, not a test.
// Every process it starts is killed on exit.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/vmgate/vmgate/bench/internal/fleet"
	"github.com/vmgate/vmgate/bench/internal/proc"
	"github.com/vmgate/vmgate/bench/internal/workdir"
)

type options struct {
	vmgate, snmpExporter, libvirtExporter string
	kit                                   string // deploy/prometheus/snmp.yml
	hosts, vms, rounds                    int
	interval, timeout, readyLimit         time.Duration
	commit                                string
	keep, skipLibvirt                     bool
}

func main() {
	var o options
	flag.StringVar(&o.vmgate, "vmgate", "bench/out/vmgate", "the vmgate binary")
	flag.StringVar(&o.snmpExporter, "snmp-exporter", "prometheus-snmp-exporter", "Debian's snmp_exporter")
	flag.StringVar(&o.libvirtExporter, "libvirt-exporter", "prometheus-libvirt-exporter", "Debian's libvirt exporter")
	flag.StringVar(&o.kit, "kit", "deploy/prometheus/snmp.yml", "the kit's snmp.yml")
	flag.IntVar(&o.hosts, "hosts", 100, "test-driver hosts (= SNMP contexts = targets)")
	flag.IntVar(&o.vms, "vms", 100, "VMs per host (every tenth shut off)")
	flag.IntVar(&o.rounds, "rounds", 3, "scrape rounds per exporter")
	flag.DurationVar(&o.interval, "interval", 60*time.Second, "scrape interval: every target starts at its start")
	flag.DurationVar(&o.timeout, "timeout", 50*time.Second, "scrape timeout (the kit's prometheus.yml scrape_timeout)")
	flag.DurationVar(&o.readyLimit, "ready-limit", 10*time.Minute, "bound of vmgate's first full view (/readyz)")
	flag.StringVar(&o.commit, "commit", "", "the measured tree's commit, printed")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (configs, logs)")
	flag.BoolVar(&o.skipLibvirt, "skip-libvirt-exporter", false, "measure snmp_exporter only")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scrape:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	work, done, err := workdir.Make("vmgate-scrape.", o.keep)
	if err != nil {
		return err
	}
	defer done()
	var procs procs
	defer procs.stopAll()
	f := fleet.Fleet{Dir: filepath.Join(work, "fleet"), Hosts: o.hosts, VMs: o.vms}
	if err := f.Write(); err != nil {
		return err
	}
	fmt.Printf("vmgate scrape benchmark, %s, commit %s, %d CPUs, %s; %d hosts x %d VMs (every tenth shut off); "+
		"%d rounds, interval %s, timeout %s; load before: %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), o.commit, runtime.NumCPU(), runtime.Version(),
		o.hosts, o.vms, o.rounds, o.interval, o.timeout, proc.Loadavg())

	snmpRes, err := snmpPhase(ctx, o, work, f, &procs)
	if err != nil {
		return fmt.Errorf("snmp_exporter: %w", err)
	}
	if !o.skipLibvirt {
		if err := libvirtPhase(ctx, o, work, f, &procs); err != nil {
			return fmt.Errorf("libvirt exporter: %w", err)
		}
	}
	fmt.Printf("\nload after: %s\n", proc.Loadavg())
	fmt.Printf("%s: %d VMs on %d hosts scraped within a %s interval (snmp_exporter, kit's snmp.yml, one target per host context: %s)\n",
		verdict(snmpRes.allFit()), o.hosts*o.vms, o.hosts, o.interval, snmpRes.why())
	return nil
}

// verdict is PASS or MISS.
func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}
