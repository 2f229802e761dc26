package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
)

const (
	trapVMStateChange        = ".1.3.6.1.3.7466.0.1"
	trapHostConnectionChange = ".1.3.6.1.3.7466.0.2"
)

// TestNotifications: net-snmp's snmptrapd, configured as a v2c trap target and as an
// SNMPv3 authPriv inform target, receives hostConnectionChange when the test-driver host
// connects, and vmStateChange with the new vmState when a SET pauses a VM (libvirt's
// lifecycle event), once per target. The second inform reuses what the first one's
// discovery of snmptrapd's engine ID taught.
func TestNotifications(t *testing.T) {
	if err := LibvirtMissing(); err != nil {
		t.Skipf("SKIPPING notifications: %v", err)
	}
	target, traps := startTrapd(t)

	cfg := baseConfig(t)
	cfg.Notify = []map[string]any{{"address": target, "version": "v2c", "community": "public"},
		{"address": target, "version": "v3", "user": admin.Name, "inform": true}}
	g := Start(t, binary(t), cfg)
	waitConnected(t, g, 60*time.Second)
	pollUntil(t, 30*time.Second, "hostConnectionChange received as trap and inform", func() string {
		if strings.Count(traps(), trapHostConnectionChange) < 2 {
			return "snmptrapd log:\n" + traps()
		}
		return ""
	})
	if !strings.Contains(traps(), hostCtx) {
		t.Fatalf("hostConnectionChange lacks hypervisorName %q:\n%s", hostCtx, traps())
	}

	id, ok := vmIDByName(t, g, hostCtx, "e2e-vm-1")
	if !ok {
		t.Fatal("fixture VM e2e-vm-1 not listed")
	}
	mustSucceed(t, g.Set(t, admin.Cred(hostCtx), inst(vmEntry, colVmState, id), "i", "4"))
	t.Cleanup(func() { g.Set(t, admin.Cred(hostCtx), inst(vmEntry, colVmState, id), "i", "2") })
	state := inst(vmEntry, colVmState, id)
	pollUntil(t, 30*time.Second, "vmStateChange received as trap and inform", func() string {
		n := 0
		for _, line := range strings.Split(traps(), "\n") {
			if strings.Contains(line, trapVMStateChange) && strings.Contains(line, state+" = INTEGER: 4") {
				n++
			}
		}
		if n < 2 {
			return fmt.Sprintf("%d vmStateChange with %s = 4 (want 2) in:\n%s", n, state, traps())
		}
		return ""
	})
}

// startTrapd starts net-snmp's snmptrapd on a free loopback port, logging every
// notification it accepts (v2c community public; admin's v3 informs, snmptrapd being
// their authoritative engine) with numeric OIDs; it returns the target address and a
// function reading its log. A test without snmptrapd is skipped.
func startTrapd(t *testing.T) (target string, traps func() string) {
	t.Helper()
	bin, err := exec.LookPath("snmptrapd")
	if err != nil {
		t.Skip("SKIPPING: snmptrapd not installed (Debian package snmptrapd)")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "snmptrapd.conf")
	// snmptrapd is the authoritative engine of the informs: the user's keys are
	// localized to its own engine ID.
	trapConf := "authCommunity log public\n" +
		"createUser " + admin.Name + " SHA-256 " + admin.AuthPassphrase + " AES " + admin.PrivPassphrase + "\n" +
		"authUser log " + admin.Name + " priv\n"
	if err := os.WriteFile(conf, []byte(trapConf), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testkit.FreeUDPPort(t)
	logFile := filepath.Join(dir, "traps.log")
	trapd := exec.Command(bin, "-f", "-C", "-c", conf, "-On", "-Lf", logFile, "udp:127.0.0.1:"+strconv.Itoa(port))
	trapd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+dir, "MIBS=", "HOME="+dir)
	if err := trapd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = trapd.Process.Kill(); _ = trapd.Wait() })
	traps = func() string { b, _ := os.ReadFile(logFile); return string(b) }
	pollUntil(t, 30*time.Second, "snmptrapd started", func() string {
		if !strings.Contains(traps(), "NET-SNMP version") {
			return "no start line in " + logFile
		}
		return ""
	})
	return "udp:127.0.0.1:" + strconv.Itoa(port), traps
}
