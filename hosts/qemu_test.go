package hosts

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/vmgate/vmgate/e2e/testkit"
)

// tinyVM is a 64 MiB diskless TCG guest: it boots into firmware and idles, which is
// all the lifecycle needs.
func tinyVM(name string) string {
	return fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <interface type='user'><mac address='52:54:00:aa:bb:01'/><model type='e1000'/></interface>
  </devices>
</domain>`, name)
}

func virsh(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("virsh", append([]string{"-c", "qemu:///system"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("virsh %v: %v\n%s", args, err, out)
	}
}

// TestQEMULifecycleEvents drives a real VM with virsh, a client of its own, so what
// reaches the Sink comes from libvirt's events, not from our operations' refreshes.
func TestQEMULifecycleEvents(t *testing.T) {
	requireLibvirtd(t)
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skipf("SKIPPING: no qemu-system-x86_64: %v", err)
	}
	name := randomPrefix(t) + "-vm"
	defineFailed := false
	t.Cleanup(func() {
		// A define that timed out here may still complete in libvirtd: wait for it.
		deadline := time.Now().Add(time.Second)
		if defineFailed {
			deadline = time.Now().Add(5 * time.Minute)
		}
		for {
			_ = exec.Command("virsh", "-c", "qemu:///system", "destroy", name).Run()
			if exec.Command("virsh", "-c", "qemu:///system", "undefine", name).Run() == nil || time.Now().After(deadline) {
				return
			}
			time.Sleep(2 * time.Second)
		}
	})
	sink := newFakeSink()
	s := startSupervisor(t, Config{Name: "qemu", URI: "qemu:///system", StatsInterval: time.Hour,
		// A loaded test machine re-probes QEMU's capabilities on define: >30s seen.
		CallTimeout: 3 * time.Minute}, sink)
	testkit.WaitFor(t, 3*time.Minute, "qemu host up", func() bool { return sink.lastHealth().Status == Up })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	d, err := s.Define(ctx, tinyVM(name))
	if err != nil {
		defineFailed = true
		t.Fatal(err)
	}
	id := d.UUID
	if d.DomainType != "qemu" || d.MemoryKiB != 65536 || len(d.NICs) != 1 || d.NICs[0].MAC != "52:54:00:aa:bb:01" {
		t.Errorf("defined: %+v", d)
	}
	wantState := func(what string, st DomainState) {
		t.Helper()
		testkit.WaitFor(t, 2*time.Minute, what, func() bool {
			got, ok := sink.domain(id)
			return ok && got.State == st
		})
	}
	virsh(t, "start", name)
	wantState("running after virsh start", StateRunning)
	if got, _ := sink.domain(id); got.ID <= 0 {
		t.Errorf("running domain has no id: %+v", got)
	}
	st, err := s.PollStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ds := statsOf(st, id); ds.State != StateRunning || ds.CPUTimeNs == 0 || len(ds.VCPUs) != 1 {
		t.Errorf("stats of a running VM: %+v", ds)
	}
	// The poll decodes the reply off the wire: as go-libvirt and parseDomainStats would.
	checkStatsDecode(t, "qemu:///system", statsGroups, libvirt.ConnectGetAllDomainsStatsNowait)
	virsh(t, "suspend", name)
	wantState("paused after virsh suspend", StatePaused)
	virsh(t, "resume", name)
	wantState("running after virsh resume", StateRunning)
	// A pause and a resume of the supervisor's own show the state their event gave,
	// which is what libvirt then says, reason included.
	for _, op := range []struct {
		name string
		fn   func(context.Context, Target) error
	}{{"suspend", s.Suspend}, {"resume", s.Resume}} {
		if err := op.fn(ctx, id); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		got, _ := sink.domain(id)
		if st, r := libvirtState(t, ctx, s, id); got.State != st || got.Reason != r {
			t.Errorf("after %s the sink shows state %v reason %d, libvirt %v %d", op.name, got.State, got.Reason, st, r)
		}
	}
	virsh(t, "destroy", name)
	wantState("shut off after virsh destroy", StateShutoff)
	// libvirt reports libvirtd's own CPU time for an inactive domain: not shown.
	if st, err = s.PollStats(ctx); err != nil {
		t.Fatal(err)
	}
	if ds := statsOf(st, id); ds.State != StateShutoff || ds.CPUTimeNs != 0 || ds.CPUUserNs != 0 || len(ds.VCPUs) != 0 {
		t.Errorf("stats of a shut-off VM: %+v", ds)
	}
	checkStatsDecode(t, "qemu:///system", statsGroups, libvirt.ConnectGetAllDomainsStatsNowait)
	virsh(t, "undefine", name)
	testkit.WaitFor(t, 2*time.Minute, "removed after virsh undefine", func() bool {
		_, ok := sink.domain(id)
		return !ok
	})

	// A transient domain disappears when it stops.
	tname := name + "-t"
	xmlFile := filepath.Join(t.TempDir(), "t.xml")
	if err := os.WriteFile(xmlFile, []byte(tinyVM(tname)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exec.Command("virsh", "-c", "qemu:///system", "destroy", tname).Run() })
	virsh(t, "create", xmlFile)
	var tid UUID
	testkit.WaitFor(t, 2*time.Minute, "transient domain running", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		for _, d := range sink.view {
			if d.Name == tname && d.State == StateRunning && !d.Persistent {
				tid = d.UUID
				return true
			}
		}
		return false
	})
	virsh(t, "destroy", tname)
	testkit.WaitFor(t, 2*time.Minute, "transient domain removed once stopped", func() bool {
		_, ok := sink.domain(tid)
		return !ok
	})
}

// TestInactiveSizesMatchBlockInfo: for an inactive QEMU domain, the sizes the resync
// takes from one block stats call are DomainGetBlockInfo's, disk by disk.
func TestInactiveSizesMatchBlockInfo(t *testing.T) {
	requireLibvirtd(t)
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skipf("SKIPPING: no qemu-img: %v", err)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := randomPrefix(t) + "-sizes"
	var disks string
	for i, f := range []string{"qcow2", "raw"} {
		img := filepath.Join(dir, fmt.Sprintf("d%d.%s", i, f))
		if out, err := exec.Command("qemu-img", "create", "-f", f, img, fmt.Sprintf("%dM", 10*(i+1))).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img: %v\n%s", err, out)
		}
		disks += fmt.Sprintf("<disk type='file' device='disk'><driver name='qemu' type='%s'/><source file='%s'/><target dev='vd%c' bus='virtio'/></disk>\n", f, img, 'a'+i)
	}
	xml := filepath.Join(dir, "dom.xml")
	if err := os.WriteFile(xml, fmt.Appendf(nil, `<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64'>hvm</type></os><devices>%s</devices></domain>`, name, disks), 0o644); err != nil {
		t.Fatal(err)
	}
	virsh(t, "define", xml)
	t.Cleanup(func() { _ = exec.Command("virsh", "-c", "qemu:///system", "undefine", name).Run() })

	sink := newFakeSink()
	s := startSupervisor(t, Config{Name: "qemu", URI: "qemu:///system", StatsInterval: time.Hour, CallTimeout: 3 * time.Minute}, sink)
	testkit.WaitFor(t, 3*time.Minute, "qemu host up", func() bool { return sink.lastHealth().Status == Up })
	c, err := s.conn()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sizes, err := inactiveSizes(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	var d Domain
	for _, x := range sink.lastSync().Domains {
		if x.Name == name {
			d = x
		}
	}
	if len(d.Disks) != 2 || len(sizes[d.UUID]) != 2 {
		t.Fatalf("domain %s: disks %+v, block stats %+v", name, d.Disks, sizes[d.UUID])
	}
	for _, dk := range d.Disks {
		var alloc, capacity uint64
		err := c.call(ctx, "DomainGetBlockInfo", func(l *lv) error {
			var err error
			alloc, capacity, _, err = l.DomainGetBlockInfo(libvirt.Domain{Name: d.Name, UUID: libvirt.UUID(d.UUID), ID: -1}, dk.Target, 0)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if dk.Capacity != capacity || dk.Allocation != alloc || capacity == 0 {
			t.Errorf("%s: resync gave capacity %d allocation %d, DomainGetBlockInfo %d and %d", dk.Target, dk.Capacity, dk.Allocation, capacity, alloc)
		}
	}
}
