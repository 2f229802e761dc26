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

// TestNotifyResync: a change made while the gateway was disconnected is notified once,
// by the resync after the reconnection. A test-driver host reached through a proxy is a
// fresh driver at each connection: the VM a SET paused (vmStateChange paused(4), the
// event) runs again once the proxy is back, and the resync's difference says
// running(2), once; VM-MIB's vmRunning follows, from paused(8).
func TestNotifyResync(t *testing.T) {
	bin := binary(t)
	if err := LibvirtMissing(); err != nil {
		t.Skipf("SKIPPING libvirt test: %v", err)
	}
	target, traps := startTrapd(t)
	proxy := startProxy(t, LibvirtSocket)
	node2, err := filepath.Abs(filepath.Join("testdata", "node2.xml"))
	if err != nil {
		t.Fatal(err)
	}
	host := Host{Name: "n11r-" + randHex(t, 4), URI: fmt.Sprintf("test+tcp://127.0.0.1:%d%s", proxy.Port, node2)}
	cfg := Config{Communities: []Community{public}, Users: []User{admin}, Hosts: []Host{host},
		Notify: []map[string]any{{"address": target, "version": "v2c", "community": "public"}}}
	hostOptions(&cfg, map[string]map[string]any{host.Name: {"connect_timeout": "3s", "keepalive_interval": "1s",
		"keepalive_timeout": "3s", "backoff_max": "1s"}})
	g := Start(t, bin, cfg)
	waitConnected(t, g, time.Minute)
	const vm = "e2e-vm-2"
	id, ok := vmIDByName(t, g, host.Name, vm)
	if !ok {
		t.Fatalf("%s not listed", vm)
	}
	states := func() string { return strings.Join(stateSeqs(traps(), []string{vm})[vm], " ") }
	mustSucceed(t, g.Set(t, admin.Cred(host.Name), inst(vmEntry, colVmState, id), "i", "4"))
	pollUntil(t, 30*time.Second, "vmStateChange paused(4)", func() string {
		if got := states(); got != "4" {
			return "vmStates " + got
		}
		return ""
	})

	proxy.Stop()
	pollUntil(t, time.Minute, "vmState unknown(9) while disconnected", func() string {
		if got := getVal(t, g, admin.Cred(host.Name), inst(vmEntry, colVmState, id)); got != "9" {
			return "vmState " + got
		}
		return ""
	})
	proxy.Start(t)
	waitConnected(t, g, time.Minute)
	pollUntil(t, time.Minute, "the resync's running(2)", func() string {
		if got := states(); got != "4 2" {
			return "vmStates " + got
		}
		return ""
	})
	pollUntil(t, 30*time.Second, "VM-MIB vmRunning from paused(8)", func() string {
		if got := strings.Join(vmMIBSeqs(traps(), []string{vm})[vm], " "); got != "4/4 1/8" {
			return "VM-MIB notifications " + got
		}
		return ""
	})
	if got := getVal(t, g, admin.Cred(host.Name), inst(vmEntry, colVmState, id)); got != "2" {
		t.Errorf("vmState after the resync %s, want 2", got)
	}
}
