package view_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/gateway/view/viewtest"
	"github.com/vmgate/vmgate/hosts"
)

// readFixture: host a has vm1 (linux kernel boot, volume disk), vm2; host b has vm3 and
// its own record of vm2 (a duplicate); pools on both.
func readFixture(t *testing.T) *viewtest.View {
	t.Helper()
	tv := viewtest.New(t, "a", "b")
	k := viewtest.Domain(1, hosts.StateRunning, "/outside/one.img")
	k.Kernel, k.Initrd, k.Cmdline = "/boot/vmlinuz", "/boot/initrd", "console=ttyS0"
	k.OSInfoID = "http://debian.org/debian/12"
	k.Disks = append(k.Disks, hosts.Disk{Device: "disk", Type: "volume", Target: "vdz", Pool: "pa", Volume: "va"})
	k.Disks = append(k.Disks, hosts.Disk{Device: "cdrom", Type: "file", Target: "hdc"}) // empty cdrom
	tv.Synced("a", hosts.Inventory{
		Domains: []hosts.Domain{k, viewtest.Domain(2, hosts.StateRunning)},
		Pools:   []hosts.Pool{{Name: "pa"}},
		Volumes: []hosts.Volume{{Pool: "pa", Name: "va", Path: "/pa/va", Format: "raw", Capacity: 1 << 30}},
	})
	tv.Synced("b", hosts.Inventory{
		Domains: []hosts.Domain{viewtest.Domain(3, hosts.StateShutoff), viewtest.Domain(2, hosts.StateShutoff)},
		Pools:   []hosts.Pool{{Name: "pb"}},
	})
	return tv
}

func TestReadLowerBoundAndLookups(t *testing.T) {
	s := readFixture(t).Read()
	all := slices.Collect(s.VMs("", 0))
	if len(all) != 3 {
		t.Fatalf("merged shows %d VMs, want 3", len(all))
	}
	tests := []struct {
		ctx  string
		from uint32
		want []string
	}{
		{"", 0, []string{"a/vm1", "a/vm2", "b/vm3"}},
		{"", all[1].VMID, []string{"a/vm2", "b/vm3"}},
		{"", all[1].VMID + 1, []string{"b/vm3"}},
		{"", all[2].VMID + 1, nil},
		{"a", 0, []string{"a/vm1", "a/vm2"}},
		{"b", 0, []string{"b/vm2", "b/vm3"}},
		{"b", all[1].VMID + 1, []string{"b/vm3"}},
		{"nope", 0, nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q from %d", tc.ctx, tc.from), func(t *testing.T) {
			var got []string
			for r := range s.VMs(tc.ctx, tc.from) {
				got = append(got, r.Host+"/"+r.Domain.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, ok := s.VM("a", all[2].VMID); ok {
		t.Errorf("host a answers for b's VM")
	}
	if r, ok := s.VM("b", all[1].VMID); !ok || r.Host != "b" {
		t.Errorf("point lookup in b = %+v %v", r, ok)
	}
	// Early break leaves no goroutine or state behind; iterators are restartable.
	for range s.VMs("", 0) {
		break
	}
	if n := len(slices.Collect(s.VMs("", 0))); n != 3 {
		t.Errorf("second walk saw %d", n)
	}
}

func TestReadSubTablesCarryIndexes(t *testing.T) {
	s := readFixture(t).Read()
	r, _ := s.VMByUUID("a", viewtest.UUID(1))
	if len(r.Disks) != 3 || len(r.NICs) != 1 {
		t.Fatalf("vm1 disks/NICs: %+v", r.VM)
	}
	for i := 1; i < len(r.Disks); i++ {
		if r.Disks[i-1].StorageIndex >= r.Disks[i].StorageIndex {
			t.Errorf("disks not sorted by storage index: %+v", r.Disks)
		}
	}
	for _, tc := range []struct {
		from uint32
		want uint32 // 0: none
	}{
		{0, r.Disks[0].StorageIndex},
		{r.Disks[0].StorageIndex, r.Disks[0].StorageIndex},
		{r.Disks[0].StorageIndex + 1, r.Disks[1].StorageIndex},
		{r.Disks[2].StorageIndex, r.Disks[2].StorageIndex},
		{r.Disks[2].StorageIndex + 1, 0},
	} {
		var got uint32
		d, ok := r.DiskFrom(tc.from)
		if ok {
			got = d.StorageIndex
		}
		if ok != (tc.want != 0) || got != tc.want {
			t.Errorf("DiskFrom(%d) = %d %v, want %d", tc.from, got, ok, tc.want)
		}
	}
	if n, ok := r.NICFrom(0); !ok || n.NetworkIndex != r.NICs[0].NetworkIndex {
		t.Errorf("NICFrom(0) = %+v %v", n, ok)
	}
	if _, ok := r.HBAFrom(1); ok {
		t.Errorf("HBAFrom on a VM without controllers found one")
	}
	byTarget := map[string]view.Disk{}
	for _, d := range r.Disks {
		byTarget[d.Target] = d
	}
	if byTarget["hdc"].DiskImageIndex != 0 {
		t.Errorf("empty cdrom has an image index")
	}
	vol, ok := s.Image("a", byTarget["vdz"].DiskImageIndex)
	if !ok || vol.Volume == nil || vol.Path != "/pa/va" || vol.PoolIndex == 0 {
		t.Errorf("volume disk image = %+v %v", vol, ok)
	}
	if p, ok := s.Pool("", vol.PoolIndex); !ok || p.Pool.Name != "pa" {
		t.Errorf("pool of the volume = %+v %v", p, ok)
	}
	out, ok := s.Image("", byTarget["vda"].DiskImageIndex)
	if !ok || out.Volume != nil || out.Path != "/outside/one.img" {
		t.Errorf("outside image = %+v %v", out, ok)
	}
	if n := len(slices.Collect(s.Images("b", 0))); n != 0 {
		t.Errorf("host b has %d images, want 0", n)
	}
	var pools []string
	for p := range s.Pools("", 0) {
		pools = append(pools, p.Host+"/"+p.Pool.Name)
	}
	if !slices.Equal(pools, []string{"a/pa", "b/pb"}) {
		t.Errorf("merged pools %v", pools)
	}
	if _, ok := s.Pool("a", pools2index(s, "b")); ok {
		t.Errorf("host a answers for b's pool")
	}

	oses := slices.Collect(s.OSes("", 0))
	if len(oses) != 2 || oses[0].OSInfoID != "http://debian.org/debian/12" || oses[1].OSType != "hvm" {
		t.Errorf("merged OS rows %+v", oses)
	}
	if got := slices.Collect(s.OSes("b", 0)); len(got) != 1 || got[0].OSInfoID != "" {
		t.Errorf("host b OS rows %+v", got)
	}
	if o, ok := s.OS("a", r.OSIndex); !ok || o.Index != r.OSIndex {
		t.Errorf("OS lookup %+v %v", o, ok)
	}
	kn := slices.Collect(s.Kernels("", 0))
	if len(kn) != 1 || kn[0].Index != r.KernelIndex || kn[0].Cmdline != "console=ttyS0" {
		t.Errorf("kernels %+v", kn)
	}
	if _, ok := s.Kernel("b", r.KernelIndex); ok {
		t.Errorf("host b lists a's kernel")
	}
	var hostNames []string
	for h := range s.Hosts(0) {
		hostNames = append(hostNames, h.Name)
	}
	if !slices.Equal(hostNames, []string{"a", "b"}) {
		t.Errorf("hosts %v", hostNames)
	}
	hb, _ := s.Host("b")
	if h, ok := s.HostByIndex(hb.Index); !ok || h.Name != "b" {
		t.Errorf("HostByIndex(%d) = %+v %v", hb.Index, h, ok)
	}
	if _, ok := s.HostByIndex(hb.Index + 1); ok {
		t.Errorf("HostByIndex past the last host found one")
	}
}

func pools2index(s *view.Snapshot, host string) uint32 {
	for p := range s.Pools(host, 0) {
		return p.Index
	}
	return 0
}

func TestSetHostsRemovesAndIgnores(t *testing.T) {
	tv := readFixture(t)
	tv.SetHosts([]view.HostSpec{{Name: "a"}, {Name: "c"}})
	s := tv.Read()
	var got []string
	for r := range s.VMs("", 0) {
		got = append(got, r.Host+"/"+r.Domain.Name)
	}
	if !slices.Equal(got, []string{"a/vm1", "a/vm2"}) {
		t.Errorf("after removing b: %v", got)
	}
	if _, ok := s.Host("b"); ok {
		t.Errorf("removed host still listed")
	}
	if _, ok := s.Host("c"); !ok {
		t.Errorf("added host not listed before its first report")
	}
	tv.DomainUpdated("b", viewtest.Domain(7, hosts.StateRunning)) // late event from a stopped supervisor
	if _, ok := tv.Read().VMByUUID("", viewtest.UUID(7)); ok {
		t.Errorf("event for an unconfigured host was applied")
	}
	if !strings.Contains(tv.Logs.String(), "ignoring unconfigured host") {
		t.Errorf("ignored event not logged")
	}
}

// TestConcurrentReadersSeeWholeSyncs runs readers against a writer resyncing two hosts:
// every snapshot must show each host's domains from exactly one Synced call.
func TestConcurrentReadersSeeWholeSyncs(t *testing.T) {
	tv := viewtest.New(t, "a", "b")
	const rounds, perHost = 60, 8
	inv := func(host string, gen int) hosts.Inventory {
		var ds []hosts.Domain
		for i := range perHost {
			d := viewtest.Domain(byte(i+1), hosts.StateRunning)
			if host == "b" {
				d.UUID[0] = 0xbb
			}
			if gen%2 == 1 && i == 0 {
				continue // odd generations drop one domain
			}
			d.Name = fmt.Sprintf("gen%d", gen)
			ds = append(ds, d)
		}
		return hosts.Inventory{Domains: ds}
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan string, 8)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				s := tv.Read()
				for _, host := range []string{"a", "b"} {
					gens := map[string]int{}
					for r := range s.VMs(host, 0) {
						gens[r.Domain.Name]++
					}
					if len(gens) > 1 {
						errs <- fmt.Sprintf("host %s torn snapshot: %v", host, gens)
						return
					}
					for g, n := range gens {
						var gen int
						fmt.Sscanf(g, "gen%d", &gen)
						if want := perHost - gen%2; n != want {
							errs <- fmt.Sprintf("host %s %s: %d rows, want %d", host, g, n, want)
							return
						}
					}
				}
				_, _ = s.Stats("a")
			}
		}()
	}
	for gen := range rounds {
		tv.Synced("a", inv("a", gen))
		tv.Synced("b", inv("b", gen))
		tv.Stats("a", &hosts.Stats{At: tv.Clock.Now()})
	}
	close(done)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestWritesProceedDuringWalk: a reader in the middle of a walk blocks no writer (the
// writes below would deadlock otherwise) and keeps seeing its own snapshot.
func TestWritesProceedDuringWalk(t *testing.T) {
	tv := readFixture(t)
	s := tv.Read()
	var walked []string
	for r := range s.VMs("", 0) {
		if len(walked) == 0 {
			tv.Synced("a", hosts.Inventory{})
			tv.DomainRemoved("b", viewtest.UUID(3))
			tv.Health("b", hosts.Health{Status: hosts.Down})
		}
		walked = append(walked, r.Host+"/"+r.Domain.Name)
		if r.Stale {
			t.Errorf("%s stale in a snapshot taken while its host was up", r.Domain.Name)
		}
	}
	if !slices.Equal(walked, []string{"a/vm1", "a/vm2", "b/vm3"}) {
		t.Errorf("walk saw %v, want the snapshot's rows", walked)
	}
	now := slices.Collect(tv.Read().VMs("", 0))
	if len(now) != 1 || now[0].Host != "b" || now[0].Domain.Name != "vm2" || !now[0].Stale {
		t.Errorf("after the writes: %+v", now)
	}
}

// TestOSRows: one row per osIndex, shown as the lowest (host, vmId) VM of the context
// that has it, and a snapshot of a changed tree sees the change.
func TestOSRows(t *testing.T) {
	tv := viewtest.New(t, "a", "b")
	deb := func(n byte, osType string) hosts.Domain {
		d := viewtest.Domain(n, hosts.StateRunning)
		d.OSInfoID, d.OSType = "http://debian.org/debian/12", osType
		return d
	}
	tv.Synced("b", hosts.Inventory{Domains: []hosts.Domain{deb(1, "xen"), viewtest.Domain(2, hosts.StateRunning)}})
	tv.Synced("a", hosts.Inventory{Domains: []hosts.Domain{deb(3, "hvm")}})
	types := func(s *view.Snapshot, ctx string) []string {
		var out []string
		for r := range s.OSes(ctx, 0) {
			out = append(out, fmt.Sprintf("%d %s %s", r.Index, r.OSInfoID, r.OSType))
		}
		return out
	}
	s := tv.Read()
	osDeb := slices.Collect(s.OSes("a", 0))[0].Index
	if got, want := types(s, ""), []string{fmt.Sprintf("%d http://debian.org/debian/12 hvm", osDeb)}; len(got) != 2 || got[0] != want[0] {
		t.Errorf("merged rows %v, want host a's VM first: %v", got, want)
	}
	if got := types(s, "b"); len(got) != 2 || !strings.HasSuffix(got[0], " xen") {
		t.Errorf("host b rows %v", got)
	}
	tv.DomainRemoved("b", viewtest.UUID(2))
	if got := types(tv.Read(), "b"); len(got) != 1 {
		t.Errorf("host b rows after a removal %v", got)
	}
	if got := types(s, "b"); len(got) != 2 {
		t.Errorf("the older snapshot's rows changed: %v", got)
	}
}
