package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vmgate/vmgate/mib"
)

// manager runs net-snmp's tools as the bench's SNMPv3 manager (authPriv,
// SHA-256/AES), with a private configuration and persistent directory: every command
// discovers the engine it talks to, as net-snmp's tools do.
type manager struct {
	env     []string
	timeout time.Duration // of one command
}

func newManager(dir string) (*manager, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	env := append(os.Environ(), "SNMPCONFPATH="+dir, "SNMP_PERSISTENT_DIR="+dir, "MIBS=")
	return &manager{env: env, timeout: 2 * time.Minute}, nil
}

// v3 is the authPriv credential, in the merged context.
var v3 = []string{"-v3", "-l", "authPriv", "-u", user, "-a", "SHA-256", "-A", authPass, "-x", "AES", "-X", privPass, "-n", ""}

// Retry policies: a manager's walk (one second, one retry), and the bench's probes of
// a gateway that may not answer yet (short, so that they do not blur the times).
var (
	patient = []string{"-t", "1", "-r", "1"}
	probe   = []string{"-t", "0.3", "-r", "0"}
)

// walk bulk-walks root at addr in the merged context: "OID value" lines, numeric.
func (m *manager) walk(ctx context.Context, addr, root string, retry []string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	args := append(append(slices.Clone(v3), retry...), "-Cr50", "-On", "-Oq", addr, root)
	cmd := exec.CommandContext(ctx, "snmpbulkwalk", args...)
	cmd.Env = m.env
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("snmpbulkwalk %s %s: %w", addr, root, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil, nil
	}
	return lines, nil
}

// configColumns are the virtualMachinesTable columns a failover must not change:
// what identifies and configures a VM. vmState, vmUptime and vmCpuMilliseconds come
// from each replica's own libvirt connection and may differ.
var configColumns = []string{"vmUUID", "vmName", "vmOsIndex", "vmConfFile", "vmKernelIndex", "vmRowStatus",
	"vmHost", "vmAutostart", "vmPersistent", "vmVcpus", "vmVcpusMax", "vmMemoryMb"}

// vmTable walks virtualMachinesTable at addr and keeps the configuration columns.
func (m *manager) vmTable(ctx context.Context, addr string) ([]string, error) {
	lines, err := m.walk(ctx, addr, mib.VirtualMachinesTable.OID.String(), patient)
	if err != nil {
		return nil, err
	}
	var keep []string
	for _, c := range configColumns {
		o, ok := mib.Lookup(c)
		if !ok {
			return nil, fmt.Errorf("no column %s in the module", c)
		}
		pfx := o.String() + "."
		for _, l := range lines {
			if strings.HasPrefix(l, pfx) {
				keep = append(keep, l)
			}
		}
	}
	return keep, nil
}

// vmCount is the sum of hypervisorVmCount at addr: the VMs the gateway serves.
func (m *manager) vmCount(ctx context.Context, addr string) (int, error) {
	o, _ := mib.Lookup("hypervisorVmCount")
	lines, err := m.walk(ctx, addr, o.String(), probe)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		v, err := strconv.Atoi(f[1])
		if err != nil {
			return 0, fmt.Errorf("hypervisorVmCount: %q", l)
		}
		n += v
	}
	return n, nil
}

// waitServing waits until the gateway at addr serves want VMs.
func (m *manager) waitServing(ctx context.Context, g *gw, want int, limit time.Duration) error {
	var last int
	err := poll(ctx, limit, 100*time.Millisecond, func() bool {
		if !g.running() {
			return true
		}
		last, _ = m.vmCount(ctx, g.addr)
		return last == want
	})
	if !g.running() {
		return fmt.Errorf("%s exited (log: %s/vmgate.log)", g.name, g.dir)
	}
	if err != nil {
		return fmt.Errorf("%s serves %d VMs, want %d: %w", g.name, last, want, err)
	}
	return nil
}

// same reports whether two walks are identical, and if not where they first differ.
func same(a, b []string) (bool, string) {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return false, fmt.Sprintf("line %d: %q against %q", i, a[i], b[i])
		}
	}
	if len(a) != len(b) {
		return false, fmt.Sprintf("%d lines against %d", len(a), len(b))
	}
	return true, ""
}
