// Package viewtest gives tests a merged view they drive by hand: a view.View over a
// file registry in a temporary directory, with a settable clock and a log they can
// read, and fixture domains to feed it.
package viewtest

import (
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/view"
	"github.com/vmgate/vmgate/hosts"
)

// View is a view with what a test needs to look behind it.
type View struct {
	*view.View
	Reg   *registry.File
	Clock *testkit.Clock
	Path  string // the registry file
	Logs  *testkit.Buffer
	real  atomic.Bool
}

// RealTime makes the view's clock the real one, for tests with real supervisors.
func (v *View) RealTime() { v.real.Store(true) }

func (v *View) now() time.Time {
	if v.real.Load() {
		return time.Now()
	}
	return v.Clock.Now()
}

// New returns an empty view whose hosts hostNames are configured and up.
func New(t testing.TB, hostNames ...string) *View {
	t.Helper()
	return Reopen(t, filepath.Join(t.TempDir(), registry.FileName), hostNames...)
}

// Reopen returns a view over the registry file at path (a restart), with hostNames
// configured and up. The registry's grace period is an hour of the view's clock.
func Reopen(t testing.TB, path string, hostNames ...string) *View {
	t.Helper()
	tv := &View{Clock: testkit.NewClock(), Path: path, Logs: &testkit.Buffer{}}
	logger := slog.New(slog.NewTextHandler(tv.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg, err := registry.OpenFile(path, slog.New(slog.DiscardHandler), registry.WithClock(tv.Clock.Now),
		registry.WithGrace(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tv.Reg = reg
	t.Cleanup(func() { _ = reg.Close() })
	v, err := view.New(reg, logger, view.WithClock(tv.now))
	if err != nil {
		t.Fatalf("view.New: %v", err)
	}
	tv.View = v
	var specs []view.HostSpec
	for _, h := range hostNames {
		specs = append(specs, view.HostSpec{Name: h, URI: "test:///" + h})
	}
	if specs != nil {
		v.SetHosts(specs)
	}
	for _, h := range hostNames {
		v.Health(h, hosts.Health{Status: hosts.Up, Since: tv.Clock.Now()})
	}
	return tv
}

// Open returns a view over a new file registry at path, on the real clock and logging
// nowhere: for tests that configure and feed the view themselves.
func Open(tb testing.TB, path string) (*view.View, *registry.File) {
	tb.Helper()
	logger := slog.New(slog.DiscardHandler)
	reg, err := registry.OpenFile(path, logger)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = reg.Close() })
	v, err := view.New(reg, logger)
	if err != nil {
		tb.Fatalf("view.New: %v", err)
	}
	return v, reg
}

// UUID is fixture domain n's UUID.
func UUID(n byte) hosts.UUID { return hosts.UUID{0xaa, 15: n} }

// Domain is fixture domain n ("vm<n>") in state, with one NIC and a qcow2 disk per
// source in disks.
func Domain(n byte, state hosts.DomainState, disks ...string) hosts.Domain {
	d := hosts.Domain{UUID: UUID(n), Name: "vm" + string('0'+rune(n)), ID: -1, State: state,
		OSType: "hvm", NICs: []hosts.NIC{{MAC: "52:54:00:00:00:0" + string('0'+rune(n))}}}
	if state == hosts.StateRunning || state == hosts.StatePaused {
		d.ID = int32(n)
	}
	for i, src := range disks {
		d.Disks = append(d.Disks, hosts.Disk{Device: "disk", Type: "file",
			Target: "vd" + string('a'+rune(i)), Source: src, Format: "qcow2"})
	}
	return d
}

// Names lists the VMs of ctx as host/name, in vmId order.
func Names(s *view.Snapshot, ctx string) []string {
	var out []string
	for r := range s.VMs(ctx, 0) {
		out = append(out, r.Host+"/"+r.Domain.Name)
	}
	return out
}

// VMIDs maps the UUIDs of ctx to their vmIds; a UUID shown twice fails the test.
func VMIDs(t testing.TB, s *view.Snapshot, ctx string) map[hosts.UUID]uint32 {
	t.Helper()
	m := map[hosts.UUID]uint32{}
	for r := range s.VMs(ctx, 0) {
		if _, dup := m[r.Domain.UUID]; dup {
			t.Fatalf("context %q shows UUID %s twice", ctx, r.Domain.UUID)
		}
		m[r.Domain.UUID] = r.VMID
	}
	return m
}

// FindVM returns the first VM of the merged context that match accepts; none fails the
// test, naming what was looked for.
func FindVM(t testing.TB, s *view.Snapshot, what string, match func(view.VMRow) bool) view.VMRow {
	t.Helper()
	for r := range s.VMs("", 0) {
		if match(r) {
			return r
		}
	}
	t.Fatalf("no VM %s", what)
	return view.VMRow{}
}
