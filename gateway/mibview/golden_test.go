package mibview_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmgate/vmgate/gateway/mibview"
	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/gateway/view/viewtest"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/snmp"
)

var update = flag.Bool("update", false, "rewrite testdata/walk.golden (TestWalkGolden)")

// goldenFixture is a view on a fixed clock: kvm1 (qemu:///system, polled) with a running VM whose
// disks are a pool volume, an image outside pools, a cdrom and a network LUN, a shut
// off VM with a kernel, and a paused one; kvm2 (down since its sync: stale rows) with
// a running VM; kvm3 with the shut off VM of kvm1 defined again (one vmId, two hosts).
func goldenFixture(t *testing.T) []walker {
	t.Helper()
	tv := viewtest.New(t, "kvm1", "kvm2", "kvm3")
	tv.SetHosts([]view.HostSpec{{Name: "kvm1", URI: "qemu:///system"}, {Name: "kvm2", URI: "test:///kvm2"},
		{Name: "kvm3", URI: "qemu+ssh://kvm3.example.net/system"}})
	start := tv.Clock.Now().Add(-time.Hour)
	web := viewtest.Domain(1, hosts.StateRunning, "/img/web.qcow2")
	web.Name, web.VCPUs, web.MaxVCPUs, web.MemoryKiB, web.CurrentMemoryKiB = "web", 2, 4, 2<<20, 1<<20
	web.Persistent, web.Autostart, web.Arch, web.OSInfoID = true, true, "x86_64", "http://debian.org/debian/12"
	web.CPUSet, web.VCPUPins = hosts.CPUSet{0, 1}, []hosts.VCPUPin{{VCPU: 1, CPUs: hosts.CPUSet{3}}}
	web.Disks = append(web.Disks,
		hosts.Disk{Device: "disk", Type: "volume", Bus: "virtio", Target: "vdb", Pool: "default", Volume: "web.raw", Format: "raw"},
		hosts.Disk{Device: "cdrom", Type: "file", Bus: "sata", Target: "sda", Source: "/iso/d.iso", Format: "raw", ReadOnly: true},
		hosts.Disk{Device: "lun", Type: "network", Bus: "scsi", Target: "sdc", Source: "iqn.2026-01.net.example:t/1"})
	web.NICs = append(web.NICs, hosts.NIC{MAC: "52:54:00:aa:bb:01", Type: "bridge", Source: "br0", Model: "virtio", Target: "vnet0"})
	web.Controllers = []hosts.Controller{{Type: "scsi", Model: "virtio-scsi"}, {Type: "usb", Model: "qemu-xhci"}}
	idle := viewtest.Domain(2, hosts.StateShutoff)
	idle.Persistent, idle.MemoryKiB, idle.VCPUs, idle.MaxVCPUs = true, 256<<10, 1, 1
	idle.Kernel, idle.Initrd, idle.Cmdline = "/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0"
	saving := viewtest.Domain(3, hosts.StatePaused)
	saving.Reason, saving.VCPUs = 3, 1
	db := viewtest.Domain(4, hosts.StateRunning, "/srv/db.raw")
	db.VCPUs, db.MemoryKiB = 1, 512<<10
	tv.Synced("kvm1", hosts.Inventory{
		Hypervisor: hosts.Hypervisor{Type: "QEMU", Version: 8002000, LibvirtVersion: 10000000, Hostname: "kvm1",
			Node: hosts.NodeInfo{Model: "x86_64", MemoryKiB: 16 << 20, CPUs: 4, MHz: 2400}},
		Domains: []hosts.Domain{web, idle, saving},
		Pools:   []hosts.Pool{{Name: "default", Path: "/var/lib/libvirt/images", Active: true}},
		Volumes: []hosts.Volume{{Pool: "default", Name: "web.raw", Path: "/var/lib/libvirt/images/web.raw",
			Format: "raw", Capacity: 10 << 30, Allocation: 1 << 30}},
	})
	tv.Synced("kvm2", hosts.Inventory{Domains: []hosts.Domain{db}})
	tv.Synced("kvm3", hosts.Inventory{Domains: []hosts.Domain{idle}})
	tv.Clock.Add(10 * time.Minute)
	stats := func(d hosts.Domain) hosts.DomainStats {
		return hosts.DomainStats{UUID: d.UUID, State: d.State, CPUTimeNs: 5_000_000_000,
			HasBalloon: true, BalloonCurrentKiB: 1 << 20, BalloonAvailableKiB: 1000000, BalloonUnusedKiB: 600000,
			BalloonRSSKiB: 300000,
			VCPUs:         []hosts.VCPUStats{{Number: 0, State: 1, TimeNs: 2_000_000_000}, {Number: 1, State: 2, TimeNs: 3_000_000_000}},
			Blocks: []hosts.BlockStats{{Name: "vda", RdReqs: 10, RdBytes: 4096, WrReqs: 20, WrBytes: 8192, Capacity: 20 << 30,
				Allocation: 2 << 30}, {Name: "vdb", RdReqs: 1, RdBytes: 512}},
			Nets: []hosts.NetStats{{Name: "vnet0", RxBytes: 1000, RxPkts: 10, TxBytes: 2000, TxPkts: 20}},
		}
	}
	now := tv.Clock.Now()
	tv.Stats("kvm1", hosts.NewStats(now, []hosts.DomainStats{stats(web), stats(saving)}))
	tv.Stats("kvm2", hosts.NewStats(now, []hosts.DomainStats{stats(db)}))
	tv.Health("kvm2", hosts.Health{Status: hosts.Down, Since: now, LastError: "connection refused"})
	tv.Clock.Add(5 * time.Second) // within three stats intervals: the counters are current
	a := mibview.New(tv.View, tv.Reg, nil, mibview.WithAgent("1.2.3", start))
	return []walker{mib.NewHandler(a), mib.NewStdHandler(a, nil)}
}

// walker is what the MIB handlers are to the engine.
type walker interface {
	snmp.Handler
	snmp.Walker
}

// TestWalkGolden walks both modules in every context, for v2c and v1, as GETBULKs of
// 25 repetitions do (Walk) and GETNEXT by GETNEXT; the two must agree, and their
// answers must be testdata/walk.golden's: the bytes the module served before the walk
// was made cheaper (go test -run TestWalkGolden -update rewrites it).
func TestWalkGolden(t *testing.T) {
	hs := goldenFixture(t)
	var out strings.Builder
	for i, h := range hs {
		root := []snmp.OID{mib.Root, mib.StdRoot}[i]
		for _, ctx := range []string{"", "kvm1", "kvm2", "kvm3", "nosuch"} {
			for _, model := range []snmp.SecurityModel{snmp.ModelV2c, snmp.ModelV1} {
				mk := func() *snmp.Request { return &snmp.Request{Context: ctx, Principal: snmp.Principal{Model: model}} }
				fmt.Fprintf(&out, "# %v context %q model %d\n", root, ctx, model)
				var byNext []string
				for cur := root; ; {
					vb, ok := h.Next(context.Background(), mk(), cur)
					if !ok || !vb.OID.HasPrefix(root) {
						break
					}
					byNext = append(byNext, wireText(t, vb))
					cur = vb.OID
				}
				var byWalk []string
				w := snmp.NewVarBindWriter(root, root, 25)
				for cur := root; ; {
					w.Reset(root, cur, 25)
					h.Walk(context.Background(), mk(), cur, w)
					vbs, err := w.VarBinds()
					if err != nil {
						t.Fatal(err)
					}
					for _, vb := range vbs {
						byWalk = append(byWalk, wireText(t, vb))
					}
					if w.Room() > 0 {
						break
					}
					cur = append(snmp.OID(nil), w.Last()...)
				}
				if model == snmp.ModelV2c && strings.Join(byWalk, "") != strings.Join(byNext, "") {
					t.Errorf("%v context %q: Walk gave\n%s\nNext gave\n%s", root, ctx,
						strings.Join(byWalk, ""), strings.Join(byNext, ""))
				}
				for _, l := range byNext {
					out.WriteString(l)
				}
			}
		}
	}
	path := filepath.Join("testdata", "walk.golden")
	if *update {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("line %d: got\n%s\nwant\n%s", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("got %d lines, want %d", len(gl), len(wl))
	}
}

// wireText is a varbind as the wire carries it: its OID and its BER encoding.
func wireText(t *testing.T, vb snmp.VarBind) string {
	t.Helper()
	w := snmp.NewVarBindWriter(snmp.OID{}, snmp.OID{}, 2) // room left: VarBind reports true
	if !w.VarBind(vb) {
		return fmt.Sprintf("%v %v %v (not natively encodable)\n", vb.OID, vb.Type, vb.Value)
	}
	vbs, err := w.VarBinds()
	if err != nil || len(vbs) != 1 {
		t.Fatalf("%v: %v", vb.OID, err)
	}
	if b, ok := vbs[0].Value.([]byte); ok {
		return fmt.Sprintf("%v %v %x\n", vb.OID, vbs[0].Type, b)
	}
	return fmt.Sprintf("%v %v %v\n", vb.OID, vbs[0].Type, vbs[0].Value)
}
