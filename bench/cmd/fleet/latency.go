package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"strings"
	"time"

	"github.com/vmgate/vmgate/bench/internal/fleet"
	"github.com/vmgate/vmgate/gateway"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
)

const localURI = "qemu:///system"

// latencyBound bounds the whole phase; defining the first QEMU VM after a libvirtd
// restart makes libvirt probe QEMU's capabilities, which took up to a minute here.
const latencyBound = 6 * time.Minute

// tinyVM is a 64 MiB diskless TCG guest: it idles in firmware, all a lifecycle needs.
// A fixed UUID makes a retried define (after a lost reply) an update, not a conflict.
func tinyVM(name, uuid string) string {
	return fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <uuid>%s</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
</domain>`, name, uuid)
}

func virsh(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "virsh", append([]string{"-c", localURI}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("virsh %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// lifecycleOp is one half of a cycle: the virsh command, the state the view must show
// and the word of virsh event's line.
type lifecycleOp struct {
	cmd   string
	state hosts.DomainState
	mib   mib.VMState
	event string
}

var ops = []lifecycleOp{
	{"suspend", hosts.StatePaused, mib.StatePaused, "Suspended"},
	{"resume", hosts.StateRunning, mib.StateRunning, "Resumed"},
}

// sample is one operation's timings, all from the moment virsh was started.
// statsPoll is set when a stats poll of host "local" completed between the virsh start
// and the view showing the change: the supervisor's session loop runs polls and event
// refreshes one after the other, so such a change may wait for the poll. fleetPoll is
// the same for the fleet's first host: the fleet's polls start together every 10 s and
// load the one libvirtd (and the gateway) in a burst.
type sample struct {
	virsh, event, view, snmp time.Duration
	statsPoll, fleetPoll     bool
	gc                       bool // a GC cycle of the gateway's process ran meanwhile
}

// gcCycles is the number of completed GC cycles of this process (the gateway's).
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// latency defines and starts a real QEMU VM, adds qemu:///system to the gateway as host
// "local" (a config reload), then suspends and resumes it with virsh b.o.cycles times.
func (b *bench) latency(ctx context.Context) error {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		fmt.Printf("\n== suspend/resume latency: SKIPPED, no qemu-system-x86_64\n")
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, latencyBound)
	defer cancel()
	name, err := b.defineVM(ctx)
	if name != "" {
		defer undefine(name) // also after a failed or interrupted define: it may have gone through
	}
	if err != nil {
		return err
	}
	if err := retryVirsh(ctx, "start", name); err != nil {
		return err
	}
	out, err := virsh(ctx, "domuuid", name)
	if err != nil {
		return err
	}
	u, err := hosts.ParseUUID(out)
	if err != nil {
		return err
	}
	if err := b.addLocal(ctx); err != nil {
		return err
	}
	vmID, err := b.waitState(ctx, u, hosts.StateRunning, 3*time.Minute)
	if err != nil {
		return err
	}
	poll := b.newStatePoller(u, vmID)
	events, stopEvents, err := watchEvents(ctx, name)
	if err != nil {
		return err
	}
	defer stopEvents()
	// Warm-up cycle: also proves virsh event is subscribed before measuring.
	for _, op := range ops {
		if _, err := b.cycle(ctx, name, op, poll, events); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	res := map[string][]sample{}
	stBegin, _ := b.g.View().Read().Stats("local")
	tBegin := time.Now()
	for range b.o.cycles {
		for _, op := range ops {
			s, err := b.cycle(ctx, name, op, poll, events)
			if err != nil {
				return err
			}
			res[op.cmd] = append(res[op.cmd], s)
		}
	}
	printLatency(res, b.o.cycles, poll.snmpOK)
	if stEnd, _ := b.g.View().Read().Stats("local"); stBegin != nil && stEnd != nil {
		fmt.Printf("(stats polls of the host meanwhile: counters taken at %s and %s, cycles ran %.1f s)\n",
			stBegin.At.Format("15:04:05.000"), stEnd.At.Format("15:04:05.000"), time.Since(tBegin).Seconds())
	}
	return nil
}

func (b *bench) defineVM(ctx context.Context) (string, error) {
	var r [16]byte
	_, _ = rand.Read(r[:])
	r[6], r[8] = r[6]&0x0f|0x40, r[8]&0x3f|0x80 // version 4
	name := "fleetbench-" + hex.EncodeToString(r[:4])
	path := filepath.Join(b.work, name+".xml")
	if err := os.WriteFile(path, []byte(tinyVM(name, hosts.UUID(r).String())), 0o644); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "fleet: defining QEMU VM %s (libvirt may probe QEMU first: up to minutes)\n", name)
	return name, retryVirsh(ctx, "define", path)
}

// retryVirsh runs a virsh command up to 3 times: the shared test libvirtd (9.0.0) has
// been seen to crash under other clients and be restarted (deploy/testbed/libvirtd-up)
// while this ran. Between attempts it waits for libvirtd to answer again.
func retryVirsh(ctx context.Context, args ...string) error {
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			fmt.Fprintf(os.Stderr, "fleet: %v; waiting for libvirtd and retrying\n", err)
			if werr := waitLibvirtd(ctx, time.Minute); werr != nil {
				return errors.Join(err, werr)
			}
		}
		if _, err = virsh(ctx, args...); err == nil {
			return nil
		}
		if attempt > 0 && strings.Contains(err.Error(), "already active") {
			return nil // the start before the crash went through
		}
	}
	return err
}

// waitLibvirtd polls `virsh uri` until libvirtd answers.
func waitLibvirtd(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		if _, err := virsh(ctx, "uri"); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("libvirtd not answering after %s: %w", within, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// undefine removes the VM, on a fresh context: it runs on the way out, after a signal too.
func undefine(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, _ = virsh(ctx, "destroy", name)
	if _, err := virsh(ctx, "undefine", name); err != nil && !strings.Contains(err.Error(), "failed to get domain") {
		fmt.Fprintln(os.Stderr, "fleet: cleanup:", err)
	}
}

// addLocal reloads the gateway with qemu:///system as one more host, "local".
func (b *bench) addLocal(ctx context.Context) error {
	if err := os.WriteFile(b.cfg, []byte(b.config(true)), 0o600); err != nil {
		return err
	}
	cfg, err := gateway.LoadConfig(b.cfg)
	if err != nil {
		return err
	}
	return b.g.Reload(ctx, cfg)
}

// waitState polls the view until host "local" shows VM u in state st; it returns the vmId.
func (b *bench) waitState(ctx context.Context, u hosts.UUID, st hosts.DomainState, within time.Duration) (uint32, error) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if r, ok := b.g.View().Read().VMByUUID("local", u); ok && !r.Stale && r.Domain.State == st {
			return r.VMID, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("VM %s not %d in the view after %s", u, st, within)
}

// cycle runs one virsh operation and times the view, vmState and virsh event.
func (b *bench) cycle(ctx context.Context, name string, op lifecycleOp, p *statePoller, events <-chan event) (sample, error) {
	st0, _ := b.g.View().Read().Stats("local")
	fl0, _ := b.g.View().Read().Stats(fleet.HostName(0))
	gc0 := gcCycles()
	t0 := time.Now()
	done := make(chan error, 1)
	var tExit time.Time
	go func() {
		_, err := virsh(ctx, op.cmd, name)
		tExit = time.Now()
		done <- err
	}()
	tView, tSNMP, err := p.until(ctx, op, 10*time.Second)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", op.cmd, err)
	}
	if err := <-done; err != nil {
		return sample{}, err
	}
	st1, _ := b.g.View().Read().Stats("local")
	fl1, _ := b.g.View().Read().Stats(fleet.HostName(0))
	s := sample{virsh: tExit.Sub(t0), view: tView.Sub(t0), statsPoll: st1 != st0, fleetPoll: fl1 != fl0,
		gc: gcCycles() != gc0}
	if !tSNMP.IsZero() {
		s.snmp = tSNMP.Sub(t0)
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return s, fmt.Errorf("virsh event stopped")
			}
			if strings.Contains(ev.text, op.event) {
				s.event = ev.at.Sub(t0)
				return s, nil
			}
		case <-timeout:
			return s, fmt.Errorf("%s: no %q line from virsh event within 5s", op.cmd, op.event)
		}
	}
}

type event struct {
	at   time.Time
	text string
}

// watchEvents runs `virsh event --loop --timestamp` on the VM and yields its lines.
func watchEvents(ctx context.Context, name string) (<-chan event, func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, "virsh", "-c", localURI, "event", "--domain", name,
		"--loop", "--event", "lifecycle", "--timestamp")
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, nil, err
	}
	ch := make(chan event, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if ev, ok := parseEvent(sc.Text()); ok {
				ch <- ev
			}
		}
	}()
	return ch, func() { cancel(); _ = cmd.Wait() }, nil
}

// parseEvent reads "2026-11-23 19:32:20.502+0000: event 'lifecycle' for domain ...".
func parseEvent(line string) (event, bool) {
	ts, rest, ok := strings.Cut(line, ": ")
	if !ok {
		return event{}, false
	}
	at, err := time.Parse("2006-01-02 15:04:05.000-0700", ts)
	if err != nil {
		return event{}, false
	}
	return event{at: at, text: rest}, true
}

func printLatency(res map[string][]sample, cycles int, snmpOK bool) {
	fmt.Printf("\n== suspend/resume latency, real QEMU VM on qemu:///system, %d cycles (ms from virsh start)\n", cycles)
	fmt.Printf("%-8s %-34s %8s %8s %8s\n", "op", "what", "p50", "p99", "max")
	var after []time.Duration
	for _, op := range ops {
		ss := res[op.cmd]
		row := func(what string, get func(sample) time.Duration) {
			xs := make([]time.Duration, 0, len(ss))
			for _, s := range ss {
				xs = append(xs, get(s))
			}
			slices.Sort(xs)
			fmt.Printf("%-8s %-34s %8.1f %8.1f %8.1f\n", op.cmd, what, ms(pct(xs, 50)), ms(pct(xs, 99)), ms(pct(xs, 100)))
		}
		row("virsh command returned", func(s sample) time.Duration { return s.virsh })
		row("virsh event line (peer, ms clock)", func(s sample) time.Duration { return s.event })
		row("view shows the new state", func(s sample) time.Duration { return s.view })
		if snmpOK {
			row("vmState GET shows it (SNMP)", func(s sample) time.Duration { return s.snmp })
		}
		row("view minus virsh event", func(s sample) time.Duration { return s.view - s.event })
		for _, s := range ss {
			last := s.view
			if snmpOK {
				last = max(last, s.snmp)
			}
			after = append(after, last-s.event)
		}
	}
	var slow, slowPoll, slowFleet, slowGC, polls, fleetPolls, gcs int
	for _, op := range ops {
		for _, s := range res[op.cmd] {
			polls += b2i(s.statsPoll)
			fleetPolls += b2i(s.fleetPoll)
			gcs += b2i(s.gc)
			if s.view-s.event > 50*time.Millisecond {
				slow++
				slowPoll += b2i(s.statsPoll)
				slowFleet += b2i(s.fleetPoll)
				slowGC += b2i(s.gc)
			}
		}
	}
	fmt.Printf("changes seen > 50 ms after the event: %d of %d; of those, %d overlapped a stats poll of the VM's host, %d the fleet's poll round, %d a GC cycle (in all: %d, %d and %d of %d changes)\n",
		slow, len(after), slowPoll, slowFleet, slowGC, polls, fleetPolls, gcs, len(after))
	slices.Sort(after)
	what := "view"
	if snmpOK {
		what = "vmState over SNMP"
	}
	verdict(fmt.Sprintf("state change in %s <= 100 ms after the libvirt event (p99 of %d)", what, len(after)),
		ms(pct(after, 99)) <= 100, fmt.Sprintf("p50 %.1f ms, p99 %.1f ms, max %.1f ms",
			ms(pct(after, 50)), ms(pct(after, 99)), ms(pct(after, 100))))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func verdict(target string, ok bool, got string) {
	v := "MISS"
	if ok {
		v = "PASS"
	}
	fmt.Printf("%s  %s: %s\n", v, target, got)
}
