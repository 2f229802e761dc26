package main

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/vmgate/vmgate/bench/internal/fleet"
	"github.com/vmgate/vmgate/bench/internal/proc"
	"github.com/vmgate/vmgate/hosts"
)

// firstView waits until every fleet host is Up and synced with all its VMs, then
// checks the merged context holds hosts x vms VMs.
func (b *bench) firstView(ctx context.Context) error {
	n := b.fleet.Hosts
	lpid := proc.LibvirtdPID()
	l0 := cpuOr0(lpid) // the gateway's CPU counts from process start: the bench did nothing before
	var firstUp, allUp time.Duration
	deadline := time.Now().Add(5 * time.Minute)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s := b.g.View().Read()
		synced := 0
		for h := range n {
			e, ok := s.Host(fleet.HostName(h))
			if ok && e.Health.Status == hosts.Up && !e.SyncedAt.IsZero() && e.VMs == b.fleet.VMs {
				synced++
			}
		}
		el := time.Since(b.start)
		if synced > 0 && firstUp == 0 {
			firstUp = el
		}
		if synced == n {
			allUp = el
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("first view: only %d of %d hosts synced after 5 minutes", synced, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	gcpu, lcpu, gc := selfCPU(), cpuOr0(lpid)-l0, gcCPU()
	b.viewRes = &viewResult{wall: allUp, cpu: gcpu, libvirtdCPU: lcpu}
	rpcs := b.rpcs() // from connecting to the first view: subscriptions, resync, first polls
	s := b.g.View().Read()
	total := 0
	for range s.VMs("", 0) {
		total++
	}
	var syncs []time.Duration
	var syncRPCs uint64
	var firstStart, lastEnd time.Duration // of the resyncs, from the start
	for h := range n {
		if hh, ok := s.HostHealth(fleet.HostName(h)); ok {
			syncs = append(syncs, hh.LastSyncDuration)
			syncRPCs += hh.LastSyncRPCs
			st, end := hh.LastSync.Add(-hh.LastSyncDuration).Sub(b.start), hh.LastSync.Sub(b.start)
			if firstStart == 0 || st < firstStart {
				firstStart = st
			}
			lastEnd = max(lastEnd, end)
		}
	}
	slices.Sort(syncs)
	fmt.Printf("\n== first full view (gateway.New -> every host Up and synced)\n")
	fmt.Printf("first host synced      %8.3f s\n", firstUp.Seconds())
	fmt.Printf("all %d hosts synced   %8.3f s   (merged context: %d VMs, want %d)\n", n, allUp.Seconds(), total, n*b.fleet.VMs)
	vms := n * b.fleet.VMs
	fmt.Printf("CPU meanwhile          gateway %.2f s (GC %.2f s), libvirtd %.2f s (libvirtd's share %.0f %%)\n",
		gcpu.Seconds(), gc.Seconds(), lcpu.Seconds(), 100*lcpu.Seconds()/(gcpu+lcpu).Seconds())
	fmt.Printf("resync RPCs            %d: %.2f per VM (Health.LastSyncRPCs: the resyncs alone)\n",
		syncRPCs, float64(syncRPCs)/float64(vms))
	fmt.Printf("libvirt RPCs           %d: %.2f per VM (replies counted on the connections from connecting to the first\n"+
		"                       view: subscriptions, resync, the first stats polls with their address rounds)\n",
		rpcs, float64(rpcs)/float64(vms))
	fmt.Printf("per-host full resync   p50 %.1f ms, max %.1f ms (Health.LastSyncDuration); the first began at %.3f s,\n"+
		"                       the last ended at %.3f s (Health.LastSync): the view showed it %.3f s later\n",
		ms(pct(syncs, 50)), ms(pct(syncs, 100)), firstStart.Seconds(), lastEnd.Seconds(), (allUp - lastEnd).Seconds())
	if total != n*b.fleet.VMs {
		return fmt.Errorf("first view: merged context has %d VMs, want %d", total, n*b.fleet.VMs)
	}
	return b.sizesComplete(ctx, lpid, l0)
}

// sizesComplete waits until every host has reported the sizes of the disks outside
// pools that its resync left for later (Supervisor.SizesDue), which the first view
// does not include: until then the MIB shows them unknown.
func (b *bench) sizesComplete(ctx context.Context, lpid int, l0 time.Duration) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		due := 0
		for h := range b.fleet.Hosts {
			if sup, ok := b.g.Host(fleet.HostName(h)); ok {
				due += sup.SizesDue()
			}
		}
		if due == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("disk sizes: %d VMs still without them 5 minutes after the first view", due)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	el := time.Since(b.start)
	gcpu, lcpu := selfCPU(), cpuOr0(lpid)-l0
	vms := b.fleet.Hosts * b.fleet.VMs
	fmt.Printf("disk sizes complete    %8.3f s   (sizes of disks outside pools, read after the first view; gateway %.2f s,\n"+
		"                       libvirtd %.2f s of CPU from the start; libvirt RPCs %.2f per VM, first address rounds included)\n",
		el.Seconds(), gcpu.Seconds(), lcpu.Seconds(), float64(b.rpcs())/float64(vms))
	return nil
}

// peer times what a naive poller pays: one virsh per host, one after the other.
func (b *bench) peer(ctx context.Context) error {
	fmt.Printf("\n== peer: one virsh process per host, sequentially over %d hosts\n", b.fleet.Hosts)
	for _, cmd := range [][]string{{"list", "--all"}, {"domstats"}} {
		t0 := time.Now()
		lines := 0
		for h := range b.fleet.Hosts {
			out, err := exec.CommandContext(ctx, "virsh", append([]string{"-c", b.fleet.URI(h)}, cmd...)...).Output()
			if err != nil {
				return fmt.Errorf("virsh %s on %s: %w", strings.Join(cmd, " "), fleet.HostName(h), err)
			}
			lines += strings.Count(string(out), "\n")
		}
		el := time.Since(t0)
		fmt.Printf("virsh %-10s       %8.3f s   (%.1f ms per host, %d lines)\n",
			strings.Join(cmd, " "), el.Seconds(), ms(el)/float64(b.fleet.Hosts), lines)
	}
	return nil
}

// steadyState measures the gateway's CPU (this process: nothing else runs in it
// meanwhile) and libvirtd's over b.o.steady, then memory. The window starts once every
// host has reported its first stats poll: the first view needs the resyncs only, and
// the first polls' address rounds (one to three calls per running VM) run after it.
func (b *bench) steadyState(ctx context.Context) error {
	t := time.Now()
	for {
		polled := 0
		snap := b.g.View().Read()
		for h := range b.fleet.Hosts {
			if st, _ := snap.Stats(fleet.HostName(h)); st != nil {
				polled++
			}
		}
		if polled == b.fleet.Hosts {
			break
		}
		if time.Since(t) > 5*time.Minute {
			return fmt.Errorf("%d of %d hosts polled 5 minutes after the first view", polled, b.fleet.Hosts)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	fmt.Printf("\nfirst stats polls      every host's reported %.1f s after the first view (address rounds included)\n",
		time.Since(t).Seconds())
	// One stats interval more: each host's first address round (right after its resync)
	// is then at least a round before the window, and its next one (address_interval
	// 1m, on a 10 s round: 60-70 s later) falls inside a 60 s window, however spread the
	// resyncs were; else a slow first view put more address rounds in the window.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
	}
	lpid := proc.LibvirtdPID()
	p0, perr := b.callCounts()
	g0 := runtime.NumGoroutine()
	r0 := b.rpcs()
	c0, l0, gc0 := selfCPU(), cpuOr0(lpid), gcCPU()
	t0 := time.Now()
	err := profile(b.o.steadyprof, func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(b.o.steady):
			return nil
		}
	})
	if err != nil {
		return err
	}
	el := time.Since(t0)
	c1, l1, gc1 := selfCPU(), cpuOr0(lpid), gcCPU()
	r1 := b.rpcs()
	var p1 map[string]float64
	if perr == nil {
		p1, perr = b.callCounts()
	}
	b.steady = (c1 - c0).Seconds() / el.Seconds()
	fmt.Printf("\n== steady state over %.0f s (stats_interval 10s, %d hosts)\n", el.Seconds(), b.fleet.Hosts)
	fmt.Printf("gateway CPU            %8.2f %% of one core (%.1f ms CPU per second)\n", 100*b.steady, 1000*b.steady)
	fmt.Printf("of which GC            %8.2f %% of one core (the runtime's estimate: %.0f %% of the gateway's CPU)\n",
		100*(gc1-gc0).Seconds()/el.Seconds(), 100*(gc1-gc0).Seconds()/max((c1-c0).Seconds(), 1e-9))
	if lpid > 0 {
		fmt.Printf("libvirtd CPU (peer)    %8.2f %% of one core (serving the gateway's polls, and other clients)\n",
			100*(l1-l0).Seconds()/el.Seconds())
	}
	rss, hwm, err := memStatus("self")
	if err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	vms := float64(b.fleet.Hosts * b.fleet.VMs)
	fmt.Printf("gateway memory         VmRSS %.1f MiB, VmHWM %.1f MiB, Go heap in use %.1f MiB\n",
		float64(rss)/1024, float64(hwm)/1024, float64(ms.HeapInuse)/(1<<20))
	fmt.Printf("memory per VM          RSS %.1f KiB, Go heap in use %.1f KiB\n", float64(rss)/vms, float64(ms.HeapInuse)/1024/vms)
	fmt.Printf("                       %s\n", memSplit(&ms))
	g1 := runtime.NumGoroutine()
	fmt.Printf("gateway goroutines     %d at the start of the window, %d at its end: %.1f per host\n",
		g0, g1, float64(g1)/float64(b.fleet.Hosts))
	rounds := el.Seconds() / 10 // stats_interval 10s
	fmt.Printf("libvirt RPCs           %d in the window: %.1f per host per poll round (stats, pool list, address rounds...)\n",
		r1-r0, float64(r1-r0)/rounds/float64(b.fleet.Hosts))
	fmt.Printf("cost per host per poll round  %.2f ms of gateway CPU (%.0f rounds of %d hosts in the window), %.1f us per RPC\n",
		1000*(c1-c0).Seconds()/rounds/float64(b.fleet.Hosts), rounds, b.fleet.Hosts, 1e6*(c1-c0).Seconds()/float64(max(r1-r0, 1)))
	if perr != nil {
		fmt.Printf("calls by procedure     not read: %v\n", perr)
	} else {
		fmt.Printf("calls by procedure     per host per poll round (the gateway's metrics): %s\n",
			callSplit(p0, p1, rounds*float64(b.fleet.Hosts)))
	}
	if b.o.steadyprof != "" {
		fmt.Printf("CPU profile of the steady window: %s (go tool pprof -top %s)\n", b.o.steadyprof, b.o.steadyprof)
	}
	if lpid > 0 {
		if rss, hwm, err := memStatus(fmt.Sprint(lpid)); err == nil {
			fmt.Printf("libvirtd memory (peer) VmRSS %.1f MiB, VmHWM %.1f MiB (all its clients)\n", float64(rss)/1024, float64(hwm)/1024)
		}
	}
	return writeHeapProfile(b.o.steadymem)
}

func cpuOr0(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	d, _ := proc.CPU(pid)
	return d
}

// pct is the p-th percentile (nearest rank) of sorted xs.
func pct(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	i := int(p/100*float64(len(xs))+0.5) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rpcs is the libvirt calls the fleet's supervisors have made so far.
func (b *bench) rpcs() uint64 {
	var n uint64
	for h := range b.fleet.Hosts {
		if sup, ok := b.g.Host(fleet.HostName(h)); ok {
			n += sup.RPCs()
		}
	}
	return n
}
