package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/vmgate/vmgate/bench/internal/fleet"
	"github.com/vmgate/vmgate/bench/internal/proc"
)

// floorXMLInFlight is the XML reads one connection has in flight at once: what a
// vmgate resync keeps (hosts.Supervisor.domains), leaving two of libvirtd's five
// requests per client to the watchdog, stats and operations.
const floorXMLInFlight = 3

// floorOpensAtOnce is how many hosts open their connection at once, as the gateway's
// supervisors do (gateway's openSlots, hosts.OpenSlots).
const floorOpensAtOnce = 64

// floorResult is what the floor child measures, from its first dial to the last
// host's last XML (the connections' closing is not in it, as the gateway's is not in
// its first view), and prints as JSON for the bench to read.
type floorResult struct {
	Wall        time.Duration // wall time to every host's XML
	Opened      time.Duration // wall time to the last ConnectOpen's answer
	CPU         time.Duration // the child's own CPU meanwhile
	LibvirtdCPU time.Duration // libvirtd's CPU meanwhile
	Domains     int
	XMLBytes    int64
	RPCs        int // ConnectOpen, the stats call and the XML reads
}

// viewResult is the gateway's first full view, kept to be printed next to the floor.
type viewResult struct {
	wall, cpu, libvirtdCPU time.Duration
}

// driverURI is the URI a libvirt client sends in ConnectOpen for a fleet host's
// test+unix URI (the local socket, as vmgate and virsh dial for it).
func driverURI(uri string) (string, error) {
	driver, path, ok := strings.Cut(uri, "+unix://")
	if !ok || driver == "" || !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("floor: %q is not a DRIVER+unix:///PATH URI", uri)
	}
	return driver + "://" + path, nil
}

// floorChild is the floor's child process (-floor-child): it reads the view as any
// client must, with plain go-libvirt, and prints a floorResult.
func floorChild(f fleet.Fleet) error {
	lpid := proc.LibvirtdPID()
	l0, c0, t0 := cpuOr0(lpid), selfCPU(), time.Now()
	var domains, rpcs atomic.Int64
	var xmlBytes, opened atomic.Int64
	conns := make([]*libvirt.Libvirt, f.Hosts)
	errs := make([]error, f.Hosts)
	var wg sync.WaitGroup
	slots := make(chan struct{}, floorOpensAtOnce)
	for h := range f.Hosts { // every host at once, as the gateway's supervisors start
		wg.Go(func() {
			var n, b, r int64
			conns[h], n, b, r, errs[h] = floorHost(f.URI(h), slots, func() { maxInt64(&opened, int64(time.Since(t0))) })
			domains.Add(n)
			xmlBytes.Add(b)
			rpcs.Add(r)
		})
	}
	wg.Wait()
	res := floorResult{Wall: time.Since(t0), CPU: selfCPU() - c0, LibvirtdCPU: cpuOr0(lpid) - l0,
		Opened: time.Duration(opened.Load()), Domains: int(domains.Load()), XMLBytes: xmlBytes.Load(), RPCs: int(rpcs.Load())}
	for _, l := range conns {
		if l != nil {
			wg.Go(func() { _ = l.Disconnect() })
		}
	}
	wg.Wait()
	for h, err := range errs {
		if err != nil {
			return fmt.Errorf("%s: %w", fleet.HostName(h), err)
		}
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// floorHost opens uri (holding one of slots meanwhile), lists its domains with their state in one stats call and reads
// each one's XML, floorXMLInFlight at once, calling open once ConnectOpen has
// answered. It returns the open connection.
func floorHost(uri string, slots chan struct{}, open func()) (l *libvirt.Libvirt, domains, xmlBytes, rpcs int64, err error) {
	driver, err := driverURI(uri)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	l = libvirt.NewWithDialer(dialers.NewLocal(dialers.WithLocalTimeout(time.Minute)))
	slots <- struct{}{}
	err = l.ConnectToURI(libvirt.ConnectURI(driver))
	<-slots
	if err != nil {
		return nil, 0, 0, 0, fmt.Errorf("open %s: %w", driver, err)
	}
	open()
	recs, err := l.ConnectGetAllDomainStats(nil, uint32(libvirt.DomainStatsState), uint32(libvirt.ConnectGetAllDomainsStatsNowait))
	if err != nil {
		return l, 0, 0, 2, fmt.Errorf("ConnectGetAllDomainStats: %w", err)
	}
	var (
		mu    sync.Mutex
		first error
		size  atomic.Int64
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, floorXMLInFlight)
	for _, r := range recs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			x, err := l.DomainGetXMLDesc(r.Dom, 0)
			size.Add(int64(len(x)))
			if err != nil {
				mu.Lock()
				first = cmp.Or(first, fmt.Errorf("DomainGetXMLDesc %s: %w", r.Dom.Name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return l, int64(len(recs)), size.Load(), 2 + int64(len(recs)), first
}

// maxInt64 raises a to v if v is greater.
func maxInt64(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// floor runs the floor child against the fleet's node files once libvirtd is quiet,
// and prints what it measured.
func (b *bench) floor(ctx context.Context) error {
	lpid := proc.LibvirtdPID()
	quiet := waitQuiet(ctx, lpid)
	fmt.Printf("\n== floor: plain go-libvirt, no vmgate code (%d hosts, %d opening at once: ConnectOpen, one ConnectGetAllDomainStats\n"+
		"   of the state group, DomainGetXMLDesc per domain %d in flight; in a child process)\n", b.fleet.Hosts, floorOpensAtOnce, floorXMLInFlight)
	fmt.Printf("libvirtd before        %s (quiet after %.1f s)\n", libvirtdMem(lpid), quiet.Seconds())
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, self, "-floor-child", "-floor-nodes", b.fleet.Dir,
		"-hosts", strconv.Itoa(b.fleet.Hosts), "-vms", strconv.Itoa(b.fleet.VMs))
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("floor child: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	var r floorResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return fmt.Errorf("floor child's output %q: %w", out.String(), err)
	}
	if want := b.fleet.Hosts * b.fleet.VMs; r.Domains != want {
		return fmt.Errorf("floor: %d domains read, want %d", r.Domains, want)
	}
	b.floorRes = &r
	vms := float64(r.Domains)
	fmt.Printf("every host's XML read  %8.3f s   (%d domains, %.1f MiB of XML, %.2f RPCs per VM)\n",
		r.Wall.Seconds(), r.Domains, float64(r.XMLBytes)/(1<<20), float64(r.RPCs)/vms)
	fmt.Printf("last ConnectOpen       %8.3f s   (the test driver parses the host's node file in it)\n", r.Opened.Seconds())
	fmt.Printf("CPU meanwhile          floor client %.2f s, libvirtd %.2f s (libvirtd's share %.0f %%)\n",
		r.CPU.Seconds(), r.LibvirtdCPU.Seconds(), 100*r.LibvirtdCPU.Seconds()/(r.CPU+r.LibvirtdCPU).Seconds())
	fmt.Printf("libvirtd after         %s\n", libvirtdMem(lpid))
	return nil
}

// waitQuiet waits, up to 15 s, until libvirtd's CPU grows by at most a tick in a
// quarter of a second (the connections of a gateway just stopped are being closed),
// and returns how long that took.
func waitQuiet(ctx context.Context, pid int) time.Duration {
	t0 := time.Now()
	if pid <= 0 {
		return 0
	}
	last := cpuOr0(pid)
	for time.Since(t0) < 15*time.Second {
		select {
		case <-ctx.Done():
			return time.Since(t0)
		case <-time.After(250 * time.Millisecond):
		}
		c := cpuOr0(pid)
		if c-last <= 10*time.Millisecond {
			break
		}
		last = c
	}
	return time.Since(t0)
}

// libvirtdMem is libvirtd's VmRSS and VmHWM: it grows from run to run.
func libvirtdMem(pid int) string {
	if pid <= 0 {
		return "not found"
	}
	rss, hwm, err := memStatus(strconv.Itoa(pid))
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("VmRSS %.1f MiB, VmHWM %.1f MiB", float64(rss)/1024, float64(hwm)/1024)
}

// overFloor prints the gateway's first view next to the floor and what vmgate adds on
// top of it, and appends the row of bench/run scale's table to -rows.
func (b *bench) overFloor() error {
	if b.floorRes == nil || b.viewRes == nil {
		return nil
	}
	order := "after the view (gateway stopped)"
	if b.o.floorFirst {
		order = "before the view"
	}
	f, v := b.floorRes, b.viewRes
	row := scaleRow(b.fleet.Hosts, b.fleet.VMs, *f, *v, order, b.libvirtdRSS0)
	fmt.Printf("\n== vmgate over the floor (floor run %s)\n%s\nscale row: %s\n", order, overFloorLines(*f, *v), row)
	if b.o.rows == "" {
		return nil
	}
	w, err := os.OpenFile(b.o.rows, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, row)
	return errors.Join(err, w.Close())
}

func overFloorLines(f floorResult, v viewResult) string {
	return fmt.Sprintf("first full view        vmgate %.3f s, floor %.3f s: vmgate over the floor %+.3f s (%.2fx)\n"+
		"client CPU             gateway %.2f s, floor %.2f s: %+.2f s\n"+
		"libvirtd CPU           under vmgate %.2f s, under the floor %.2f s: %+.2f s",
		v.wall.Seconds(), f.Wall.Seconds(), (v.wall - f.Wall).Seconds(), v.wall.Seconds()/f.Wall.Seconds(),
		v.cpu.Seconds(), f.CPU.Seconds(), (v.cpu - f.CPU).Seconds(),
		v.libvirtdCPU.Seconds(), f.LibvirtdCPU.Seconds(), (v.libvirtdCPU - f.LibvirtdCPU).Seconds())
}

// scaleRow is one row of bench/run scale's table: size, vmgate's first view, the
// floor, vmgate over it (wall / client CPU / libvirtd CPU), libvirtd's RSS before the run.
func scaleRow(hosts, vms int, f floorResult, v viewResult, order string, rssKiB uint64) string {
	return fmt.Sprintf("| %d x %d | %.2f s (%.2f / %.2f s) | %.2f s (%.2f / %.2f s), %s | %+.2f s (%+.2f / %+.2f s) | %.0f MiB |",
		hosts, vms, v.wall.Seconds(), v.cpu.Seconds(), v.libvirtdCPU.Seconds(),
		f.Wall.Seconds(), f.CPU.Seconds(), f.LibvirtdCPU.Seconds(), order,
		(v.wall - f.Wall).Seconds(), (v.cpu - f.CPU).Seconds(), (v.libvirtdCPU - f.LibvirtdCPU).Seconds(),
		float64(rssKiB)/1024)
}
