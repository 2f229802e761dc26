package control_test

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/gateway/control"
	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/gateway/view/viewtest"

	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
)

// TestControlOnQEMU runs the control operations SNMP SETs map to on a real QEMU host
// (qemu:///system, TCG): a 64 MiB diskless VM with a unique name, a 16 MiB raw image in
// a transient pool of the test's own, attach, start, a vCPU added live, destroy. Slow
// libvirt calls are allowed (no SNMP request deadline here).
func TestControlOnQEMU(t *testing.T) {
	viewtest.RequireLibvirtd(t)
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("SKIPPING QEMU control test: qemu-system-x86_64 not installed")
	}
	virsh := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("virsh", append([]string{"-q", "-c", "qemu:///system"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("virsh %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	prefix := "vgctl-" + randomHex(t)
	poolDir := filepath.Join(os.TempDir(), prefix)
	if err := os.MkdirAll(poolDir, 0o755); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(poolDir, prefix+".raw")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 16<<20); err != nil {
		t.Fatal(err)
	}
	virsh("pool-create-as", prefix, "dir", "--target", poolDir)
	t.Cleanup(func() {
		out, _ := exec.Command("virsh", "-q", "-c", "qemu:///system", "list", "--all", "--name").Output()
		for _, n := range strings.Fields(string(out)) {
			if strings.HasPrefix(n, prefix) {
				_ = exec.Command("virsh", "-c", "qemu:///system", "destroy", n).Run()
				_ = exec.Command("virsh", "-c", "qemu:///system", "undefine", n).Run()
			}
		}
		_ = exec.Command("virsh", "-c", "qemu:///system", "pool-destroy", prefix).Run()
		_ = os.RemoveAll(poolDir)
	})

	tv := viewtest.New(t)
	tv.RealTime()
	const host = "qemu-ctl"
	tv.SetHosts([]view.HostSpec{{Name: host, URI: "qemu:///system", StatsInterval: time.Minute}})
	sup, err := hosts.New(hosts.Config{Name: host, URI: "qemu:///system", StatsInterval: time.Minute,
		CallTimeout: 5 * time.Minute, ConnectTimeout: 5 * time.Minute, KeepaliveInterval: time.Minute,
		KeepaliveTimeout: 5 * time.Minute, BackoffMax: time.Second}, tv.View, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = sup.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	testkit.WaitFor(t, 5*time.Minute, "qemu:///system up", func() bool {
		h, ok := tv.Read().HostHealth(host)
		return ok && h.Status == hosts.Up
	})

	store, tmpl := oneTemplate(t, tv, "q.xml", "<domain type='qemu'><name>"+prefix+"</name><memory unit='MiB'>64</memory>"+
		"<vcpu current='1'>2</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>")
	c := control.New(tv.View, tv.Reg, store, func(n string) (*hosts.Supervisor, bool) { return sup, n == host }, slog.New(slog.DiscardHandler))

	ctx := context.Background()
	id := tv.Reg.NextFree(registry.NSVM)
	if err := c.Create(ctx, mib.CreateSpec{VMID: id, Host: host, Template: tmpl}); err != nil {
		t.Fatal(err)
	}
	vm, _ := c.VM(host, id)
	uuid := vm.UUID
	var image uint32
	for im := range tv.Read().Images(host, 0) {
		if im.Path == img {
			image = im.Index
		}
	}
	if image == 0 {
		t.Fatalf("%s not in the view's images", img)
	}
	steps := []struct {
		name  string
		do    func() error
		virsh []string
		want  string
	}{
		{"rename", func() error { return c.Rename(ctx, host, id, prefix+"-vm") }, []string{"domname", uuid}, prefix + "-vm"},
		{"memory", func() error { return c.SetMemory(ctx, host, id, 96) }, []string{"dommemstat", uuid, "--config"}, ""},
		{"attach", func() error {
			return c.AttachDisk(ctx, host, id, mib.DiskSpec{Index: 777, Device: mib.DeviceDisk, Image: image})
		}, []string{"domblklist", uuid}, img},
		{"start", func() error { return c.SetState(ctx, host, id, mib.StateRunning) }, []string{"domstate", uuid}, "running"},
		{"add a vCPU live", func() error { return c.SetVCPUs(ctx, host, id, 2) }, []string{"vcpucount", uuid, "--live", "--active"}, "2"},
		{"pause", func() error { return c.SetState(ctx, host, id, mib.StatePaused) }, []string{"domstate", uuid}, "paused"},
		{"resume", func() error { return c.SetState(ctx, host, id, mib.StateRunning) }, []string{"domstate", uuid}, "running"},
	}
	for _, s := range steps {
		// RPCs from the call to its answer (the lifecycle event's re-read may fall in).
		rpcs := sup.RPCs()
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		t.Logf("%s: %d RPCs", s.name, sup.RPCs()-rpcs)
		if s.want != "" && !strings.Contains(virsh(s.virsh...), s.want) {
			t.Fatalf("%s: virsh %v: %s, want %q", s.name, s.virsh, virsh(s.virsh...), s.want)
		}
	}
	if v, _ := c.VM(host, id); v.Name != prefix+"-vm" || v.VCPUs != 2 || v.State != mib.StateRunning ||
		len(v.Disks) != 1 || v.Disks[0].Index != 777 {
		t.Fatalf("view after the steps: %+v", v)
	}
	if err := c.Destroy(ctx, host, id); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("virsh", "-c", "qemu:///system", "dominfo", uuid).CombinedOutput(); err == nil {
		t.Fatalf("domain still defined: %s", out)
	}
	if _, err := os.Stat(img); err != nil {
		t.Fatalf("disk image not kept: %v", err)
	}
}

func randomHex(t *testing.T) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}
