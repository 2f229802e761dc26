package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmgate/vmgate/bench/internal/fleet"
	"github.com/vmgate/vmgate/bench/internal/proc"
	"github.com/vmgate/vmgate/e2e"
)

// The kit's SNMPv3 user (deploy/prometheus/snmp.yml), as vmgate's config has it.
const (
	kitUser     = "prometheus"
	kitAuthPass = "CHANGE-ME-auth-passphrase"
	kitPrivPass = "CHANGE-ME-priv-passphrase"
)

// phaseResult is what the verdict needs of a phase.
type phaseResult struct {
	rounds []roundStats
	limit  time.Duration
}

func (p phaseResult) allFit() bool {
	for _, r := range p.rounds {
		if !r.ok(p.limit) {
			return false
		}
	}
	return len(p.rounds) > 0
}

func (p phaseResult) why() string {
	var worst time.Duration
	failed, incomplete := 0, 0
	for _, r := range p.rounds {
		worst = max(worst, r.max)
		failed += r.failed
		incomplete += r.incomplete
	}
	return fmt.Sprintf("%d rounds, slowest target %ss against a %s scrape timeout, %d failed, %d incomplete",
		len(p.rounds), secs(worst), p.limit, failed, incomplete)
}

// measured is a process whose CPU a round reports.
type measured struct {
	label string
	pids  []int
}

const header = "%-16s %5s %7s %4s %7s %6s %6s %6s %4s %9s %11s %10s %8s %8s %6s %6s\n"

// rounds scrapes targets o.rounds times, each round at the start of an interval, and
// prints a line per round: scrape times, failures, CPU of each measured process group
// over the round, varbinds, samples, VMs listed and the 1-minute load average after it.
func rounds(ctx context.Context, o options, name string, targets []target, vmMetric, vmLabel string,
	wantVMs int, exporter, backend measured) (phaseResult, error) {
	res := phaseResult{limit: o.timeout}
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(targets), DisableCompression: true}}
	lpid := proc.LibvirtdPID()
	fmt.Printf(header, "exporter", "round", "targets", "fail", "incompl", "p50_s", "p90_s", "max_s", "fits",
		"exp_cpu_s", "backend_cpu", "libvirtd_s", "varbinds", "samples", "vms", "load1")
	next := time.Now()
	for i := range o.rounds {
		if err := waitUntil(ctx, next); err != nil {
			return res, err
		}
		start := time.Now()
		next = start.Add(o.interval)
		e0, b0, l0 := cpu(exporter.pids...), cpu(backend.pids...), cpu(lpid)
		ss := scrapeAll(ctx, c, targets, o.interval, vmMetric, vmLabel, wantVMs)
		e1, b1, l1 := cpu(exporter.pids...), cpu(backend.pids...), cpu(lpid)
		r := summarise(ss)
		res.rounds = append(res.rounds, r)
		fmt.Printf(header, name, fmt.Sprint(i+1), fmt.Sprint(r.n), fmt.Sprint(r.failed), fmt.Sprint(r.incomplete),
			secs(r.p50), secs(r.p90), secs(r.max), yesNo(r.ok(o.timeout)), secs(e1-e0),
			backend.label+" "+secs(b1-b0), secs(l1-l0), fmt.Sprint(r.varbinds), fmt.Sprint(r.samples), fmt.Sprint(r.vms),
			strings.Fields(proc.Loadavg())[0])
		if r.firstErr != "" {
			fmt.Printf("  first error: %.200s\n", r.firstErr)
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	return res, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// snmpPhase: vmgate on the fleet, the kit's snmp.yml with one module per host, and
// snmp_exporter scraped per host context.
func snmpPhase(ctx context.Context, o options, work string, f fleet.Fleet, ps *procs) (phaseResult, error) {
	dir := filepath.Join(work, "snmp")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return phaseResult{}, err
	}
	snmpAddr, err := freePort("udp")
	if err != nil {
		return phaseResult{}, err
	}
	httpAddr, err := freePort("tcp")
	if err != nil {
		return phaseResult{}, err
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `snmp:
  listen: ["udp:%s"]
  state_dir: %s
  users:
    - {name: %s, auth_protocol: SHA-256, auth_passphrase: %q, priv_protocol: AES, priv_passphrase: %q, access: read-only, contexts: ["*"]}
http: {listen: %q}
hosts:
`, snmpAddr, filepath.Join(dir, "state"), kitUser, kitAuthPass, kitPrivPass, httpAddr)
	var names []string
	for h := range f.Hosts {
		names = append(names, fleet.HostName(h))
		fmt.Fprintf(&cfg, "  - {name: %s, uri: %q}\n", fleet.HostName(h), f.URI(h))
	}
	if err := os.WriteFile(filepath.Join(dir, "vmgate.yaml"), []byte(cfg.String()), 0o600); err != nil {
		return phaseResult{}, err
	}
	started := time.Now()
	gw, err := ps.start(dir, "vmgate", mustAbs(o.vmgate), "--config", filepath.Join(dir, "vmgate.yaml"))
	if err != nil {
		return phaseResult{}, err
	}
	if err := waitHTTP(ctx, gw, "http://"+httpAddr+"/readyz", o.readyLimit); err != nil {
		return phaseResult{}, err
	}
	fmt.Printf("\nvmgate ready (/readyz 200: every host synced) after %ss; load %s\n", secs(time.Since(started)), proc.Loadavg())

	kit, err := os.ReadFile(o.kit)
	if err != nil {
		return phaseResult{}, err
	}
	snmpYml, err := e2e.SnmpYmlFor(string(kit), names)
	if err != nil {
		return phaseResult{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, "snmp.yml"), []byte(snmpYml), 0o644); err != nil {
		return phaseResult{}, err
	}
	expAddr, err := freePort("tcp")
	if err != nil {
		return phaseResult{}, err
	}
	exp, err := ps.start(dir, "snmp_exporter", o.snmpExporter, "--config.file="+filepath.Join(dir, "snmp.yml"),
		"--web.listen-address="+expAddr)
	if err != nil {
		return phaseResult{}, err
	}
	if err := waitHTTP(ctx, exp, "http://"+expAddr+"/", time.Minute); err != nil {
		return phaseResult{}, err
	}
	var targets []target
	for _, n := range names {
		targets = append(targets, target{name: n, url: "http://" + expAddr + "/snmp?" + url.Values{
			"target": {snmpAddr}, "module": {"vmgate@" + n}}.Encode()})
	}
	fmt.Printf("snmp_exporter (%s, kit's snmp.yml): GET /snmp?target=%s&module=vmgate@HOST, %d targets at once per round\n",
		o.snmpExporter, snmpAddr, len(targets))
	// vmUUIDText labels every VM series, one per VM in each state-set sample.
	res, err := rounds(ctx, o, "snmp_exporter", targets, "vmState", "vmUUIDText", f.VMs,
		measured{"snmp_exporter", []int{exp.pid()}}, measured{"vmgate", []int{gw.pid()}})
	if err != nil {
		return res, err
	}
	ps.stopAll() // the libvirt exporters run without vmgate
	return res, nil
}

// libvirtPhase: one prometheus-libvirt-exporter per host URI, scraped at once.
func libvirtPhase(ctx context.Context, o options, work string, f fleet.Fleet, ps *procs) error {
	dir := filepath.Join(work, "libvirt")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var targets []target
	var pids []int
	for h := range f.Hosts {
		addr, err := freePort("tcp")
		if err != nil {
			return err
		}
		d, err := ps.start(dir, fleet.HostName(h), o.libvirtExporter, "--libvirt.uri="+f.URI(h), "--web.listen-address="+addr)
		if err != nil {
			return err
		}
		if err := waitHTTP(ctx, d, "http://"+addr+"/", time.Minute); err != nil {
			return err
		}
		pids = append(pids, d.pid())
		targets = append(targets, target{name: fleet.HostName(h), url: "http://" + addr + "/metrics"})
	}
	running := f.VMs - f.VMs/10 // every tenth VM is shut off
	fmt.Printf("\nprometheus-libvirt-exporter (%s): %d instances, one per host URI, GET /metrics; "+
		"it lists running VMs only (%d of %d per host), at most 512 per connection\n",
		o.libvirtExporter, len(targets), running, f.VMs)
	res, err := rounds(ctx, o, "libvirt_exporter", targets, "libvirt_domain_state_code", "uuid", running,
		measured{"exporters", pids}, measured{"-", nil})
	if err != nil {
		return err
	}
	fmt.Printf("libvirt exporter: %s; %s\n", verdict(res.allFit()), res.why())
	ps.stopAll()
	return nil
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
