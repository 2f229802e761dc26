package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/bench/internal/target"
	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/snmp"
)

// Targets of the MIB walk (issue "VIRTUAL-MACHINES-MIB" item 5).
const (
	targetSpeedup   = 1.5                   // x snmpd's varbinds/s
	targetCPUPerVB  = 1.0                   // us of agent CPU per varbind
	snmpdPeerTable  = ".1.3.6.1.2.1.25.4.2" // hrSWRunTable
	walkRepetitions = "-Cr25"
	// wideRepetitions is an extra walk showing how much of the cost is per PDU.
	wideRepetitions = "-Cr100"
)

// walkResult is one agent's walks of one subtree.
type walkResult struct {
	name     string
	varbinds int
	reps     int
	wall     time.Duration
	cpu      time.Duration // agent CPU
}

func (r walkResult) rate() float64     { return float64(r.varbinds) / r.wall.Seconds() }
func (r walkResult) cpuPerVB() float64 { return r.cpu.Seconds() * 1e6 / float64(r.varbinds) }
func (r walkResult) print(note string) {
	fmt.Printf("%-44s %9d %8.2f %12.0f %14.2f  %s\n", fmt.Sprintf("%s (x%d)", r.name, r.reps),
		r.varbinds, r.wall.Seconds(), r.rate(), r.cpuPerVB(), note)
}

// walks bulk-walks virtualMachinesTable and the whole module of the gateway, then
// snmpd's hrSWRunTable, with the same client.
func (b *bench) walks(ctx context.Context) error {
	fmt.Printf("\n== MIB walk: snmpbulkwalk -v2c %s over loopback UDP, merged context, %d VMs\n",
		walkRepetitions, b.fleet.Hosts*b.fleet.VMs)
	if !b.mibServed() {
		fmt.Printf("SKIPPED: the gateway does not serve %s yet\n", mib.Root)
		return nil
	}
	env, err := b.clientEnv()
	if err != nil {
		return err
	}
	var table, module walkResult
	err = profile(b.o.cpuprofile, func() error {
		var err error
		if table, err = b.walk(ctx, env, "vmgate virtualMachinesTable", b.addr, mib.VirtualMachinesTable.OID.String(), 1, selfCPU); err != nil {
			return err
		}
		module, err = b.walk(ctx, env, "vmgate whole module", b.addr, mib.Root.String(), 1, selfCPU)
		return err
	})
	if err != nil {
		return err
	}
	wide, err := b.walkR(ctx, env, wideRepetitions, "vmgate virtualMachinesTable "+wideRepetitions, b.addr,
		mib.VirtualMachinesTable.OID.String(), 1, selfCPU)
	if err != nil {
		return err
	}
	// The gateway keeps polling its hosts during the walks: take its steady-state CPU
	// off, so the figure is the cost of answering.
	bg := func(r walkResult) walkResult {
		r.cpu -= time.Duration(b.steady * float64(r.wall))
		return r
	}
	fmt.Printf("%-44s %9s %8s %12s %14s\n", "agent", "varbinds", "seconds", "varbinds/s", "CPU us/varbind")
	note := fmt.Sprintf("(background polling, %.1f ms/s, subtracted)", 1000*b.steady)
	bg(table).print(note)
	bg(module).print(note)
	bg(wide).print("(not judged: shows the per-PDU share)")
	if b.o.snmpdAddr == "" {
		fmt.Printf("no snmpd peer (-snmpd): targets not judged\n")
		return nil
	}
	// snmpd's table is small: walk it repeatedly until as many varbinds as the vmgate
	// table walk, so both are measured over a similar time on this shared machine.
	peer, err := b.walk(ctx, env, "snmpd hrSWRunTable", b.o.snmpdAddr, snmpdPeerTable, max(b.o.snmpdMin, table.varbinds),
		func() time.Duration { return cpuOr0(b.o.snmpdPID) })
	if err != nil {
		return err
	}
	peer.print("")
	for _, r := range []walkResult{bg(table), bg(module)} {
		verdict(fmt.Sprintf("%s varbinds/s >= %.1fx snmpd's", r.name, targetSpeedup), r.rate() >= targetSpeedup*peer.rate(),
			fmt.Sprintf("%.2fx (%.0f vs %.0f)", r.rate()/peer.rate(), r.rate(), peer.rate()))
		verdict(fmt.Sprintf("%s agent CPU <= %.0f us per varbind", r.name, targetCPUPerVB), r.cpuPerVB() <= targetCPUPerVB,
			fmt.Sprintf("%.2f us (snmpd: %.2f us)", r.cpuPerVB(), peer.cpuPerVB()))
	}
	if b.o.cpuprofile != "" {
		fmt.Printf("CPU profile of the vmgate walks: %s (go tool pprof -top %s)\n", b.o.cpuprofile, b.o.cpuprofile)
	}
	return nil
}

// mibServed reports whether a GETNEXT on the module's root lands inside it.
func (b *bench) mibServed() bool {
	host, port, err := target.Parse(b.addr)
	if err != nil {
		return false
	}
	c := &gosnmp.GoSNMP{Target: host, Port: port, Community: "public", Version: gosnmp.Version2c,
		Timeout: 2 * time.Second, Retries: 1, MaxOids: gosnmp.MaxOids}
	if err := c.Connect(); err != nil {
		return false
	}
	defer c.Conn.Close()
	res, err := c.GetNext([]string{mib.Root.String()})
	if err != nil || len(res.Variables) != 1 {
		return false
	}
	oid, err := snmp.ParseOID(res.Variables[0].Name)
	return err == nil && oid.HasPrefix(mib.Root)
}

// clientEnv isolates the net-snmp tools from any user or system configuration.
func (b *bench) clientEnv() ([]string, error) {
	dir := filepath.Join(b.work, "netsnmp")
	if err := os.MkdirAll(filepath.Join(dir, "cert_indexes"), 0o700); err != nil {
		return nil, err
	}
	return append(os.Environ(), "SNMPCONFPATH="+dir, "SNMP_PERSISTENT_DIR="+dir, "MIBS="), nil
}

// walk bulk-walks root on addr until at least min varbinds (at least once); cpu reads
// the agent's CPU time.
func (b *bench) walk(ctx context.Context, env []string, name, addr, root string, min int, cpu func() time.Duration) (walkResult, error) {
	return b.walkR(ctx, env, walkRepetitions, name, addr, root, min, cpu)
}

// walkR is walk with max-repetitions reps ("-CrN").
func (b *bench) walkR(ctx context.Context, env []string, reps, name, addr, root string, min int, cpu func() time.Duration) (walkResult, error) {
	r := walkResult{name: name}
	c0, t0 := cpu(), time.Now()
	for r.varbinds < min || r.reps == 0 {
		n, err := bulkwalk(ctx, env, reps, addr, root, b.o.walkTimeout)
		if err != nil {
			return r, fmt.Errorf("%s: %w", name, err)
		}
		if n == 0 {
			return r, fmt.Errorf("%s: empty walk of %s on %s", name, root, addr)
		}
		r.varbinds += n
		r.reps++
	}
	r.wall, r.cpu = time.Since(t0), cpu()-c0
	return r, nil
}

// bulkwalk runs snmpbulkwalk and counts the varbinds it prints (one per line with -Oq).
func bulkwalk(ctx context.Context, env []string, reps, addr, root string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "snmpbulkwalk", "-v2c", "-c", "public", reps, "-On", "-Oq",
		"-t", "5", "-r", "1", "udp:"+addr, root)
	cmd.Env = env
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	n := 0
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		n++
	}
	if err := cmd.Wait(); err != nil {
		return n, fmt.Errorf("snmpbulkwalk %s %s: %w: %s", addr, root, err, stderr.String())
	}
	return n, nil
}

// limitedBuffer keeps the first 4 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4096 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
