package control_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/gateway/control"
	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/registry/etcdtest"
	"github.com/vmgate/vmgate/gateway/templates"
	"github.com/vmgate/vmgate/gateway/view/viewtest"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/mib"
)

// controlFixture is an Executor over a real supervisor of libvirt's test driver
// (testdata/node.xml: its pool gw-pool holds web.qcow2) and a template directory with
// one test-driver template, the current one.
type controlFixture struct {
	tv   *viewtest.View
	ctl  *control.Executor
	sup  *hosts.Supervisor
	tmpl uint32
	host string
}

func newControlFixture(t *testing.T) *controlFixture {
	t.Helper()
	const host = "gw-ctl"
	tv, sups, _ := viewtest.Live(t, host)
	sup := sups[0]
	testkit.WaitFor(t, 90*time.Second, host+" up", func() bool { h, ok := tv.Read().HostHealth(host); return ok && h.Status == hosts.Up })

	store, tmpl := oneTemplate(t, tv, "ctl.xml", "<domain type='test'><name>ctl</name><memory unit='MiB'>64</memory>"+
		"<vcpu current='1'>2</vcpu><os><type arch='x86_64'>hvm</type></os></domain>")
	if err := store.SetCurrent(tmpl, 0); err != nil {
		t.Fatal(err)
	}
	lookup := func(name string) (*hosts.Supervisor, bool) { return sup, name == host }
	return &controlFixture{tv: tv, ctl: control.New(tv.View, tv.Reg, store, lookup, slog.New(slog.DiscardHandler)),
		sup: sup, tmpl: tmpl, host: host}
}

// oneTemplate is a template store of files holding one template, xml as file, and the
// template's index.
func oneTemplate(t *testing.T, tv *viewtest.View, file, xml string) (*templates.Files, uint32) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, file), []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := templates.OpenFiles(dir, t.TempDir(), tv.Reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rows := store.List()
	if len(rows) != 1 {
		t.Fatalf("templates %+v", rows)
	}
	return store, rows[0].Index
}

// TestControlOnTestDriver drives every Executor operation against a real supervisor and
// checks that the view shows each result as soon as the call returns.
func TestControlOnTestDriver(t *testing.T) {
	f := newControlFixture(t)
	ctx := context.Background()
	c := f.ctl
	if most := c.HostMemoryKiB(""); most == 0 || most != c.HostMemoryKiB(f.host) {
		t.Fatalf("HostMemoryKiB(\"\") = %d, want the only host's %d", most, c.HostMemoryKiB(f.host))
	}
	id := f.tv.Reg.NextFree(registry.NSVM)
	if !c.VMIDFree(id) {
		t.Fatalf("NextFree %d is not free", id)
	}
	if err := c.Create(ctx, mib.CreateSpec{VMID: id, Host: f.host, Template: f.tmpl, MemoryMb: 80}); err != nil {
		t.Fatal(err)
	}
	vm, ok := c.VM(f.host, id)
	if !ok || vm.Name != "ctl-"+strconv.FormatUint(uint64(id), 10) || vm.State != mib.StateShutoff || vm.MemoryKiB != 80<<10 ||
		vm.VCPUs != 1 || vm.MaxVCPUs != 2 || !vm.Persistent {
		t.Fatalf("created VM %+v %v", vm, ok)
	}
	if c.VMIDFree(id) || !c.NameTaken(f.host, vm.Name) {
		t.Fatal("the new VM's vmId or name still reads free")
	}
	// The default name is made unique.
	id2 := f.tv.Reg.NextFree(registry.NSVM)
	if err := c.Create(ctx, mib.CreateSpec{VMID: id2, Host: f.host, Template: f.tmpl, Name: ""}); err != nil {
		t.Fatal(err)
	}
	if err := c.Destroy(ctx, f.host, id2); err != nil {
		t.Fatal(err)
	}

	var image uint32
	for im := range f.tv.Read().Images(f.host, 0) {
		if im.Path == "/gw-pool/web.qcow2" {
			image = im.Index
		}
	}
	if image == 0 {
		t.Fatal("pool volume web.qcow2 not in the view")
	}
	steps := []struct {
		name  string
		do    func() error
		check func(mib.VMInfo) bool
	}{
		{"rename", func() error { return c.Rename(ctx, f.host, id, "ctl-renamed") },
			func(v mib.VMInfo) bool { return v.Name == "ctl-renamed" }},
		{"memory above the maximum while shut off", func() error { return c.SetMemory(ctx, f.host, id, 128) },
			func(v mib.VMInfo) bool { return v.MemoryKiB == 128<<10 && v.MaxMemKiB >= 128<<10 }},
		{"vCPUs", func() error { return c.SetVCPUs(ctx, f.host, id, 2) },
			func(v mib.VMInfo) bool { return v.VCPUs == 2 }},
		{"start", func() error { return c.SetState(ctx, f.host, id, mib.StateRunning) },
			func(v mib.VMInfo) bool { return v.State == mib.StateRunning }},
		{"pause", func() error { return c.SetState(ctx, f.host, id, mib.StatePaused) },
			func(v mib.VMInfo) bool { return v.State == mib.StatePaused }},
		{"resume", func() error { return c.SetState(ctx, f.host, id, mib.StateRunning) },
			func(v mib.VMInfo) bool { return v.State == mib.StateRunning }},
		{"power off", func() error { return c.SetState(ctx, f.host, id, mib.StateShutoff) },
			func(v mib.VMInfo) bool { return v.State == mib.StateShutoff }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if v, _ := c.VM(f.host, id); !s.check(v) {
			t.Fatalf("%s: the view shows %+v", s.name, v)
		}
	}
	// The test driver cannot attach devices: the failed attach releases the index the
	// manager chose.
	err := c.AttachDisk(ctx, f.host, id, mib.DiskSpec{Index: 4242, Device: mib.DeviceDisk, Image: image})
	if err == nil {
		t.Fatal("attach on the test driver succeeded")
	}
	if !c.StorageIndexFree(id, 4242) {
		t.Fatal("storageIndex 4242 still bound after a failed attach")
	}
	if err := c.Destroy(ctx, f.host, id); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.VM(f.host, id); ok {
		t.Fatal("destroyed VM still in the view")
	}
	if c.VMIDFree(id) {
		t.Fatal("a destroyed VM's vmId is free at once (it must keep its grace period)")
	}
	if err := c.SetState(ctx, "nope", id, mib.StateRunning); err == nil {
		t.Fatal("unknown host accepted")
	}
}

// TestPutTemplateXMLFile: a new template's base definition is read only from the file
// templateXmlFile names in the template directory; a path elsewhere, or one that is
// not clean, is refused instead of being reduced to its last element.
func TestPutTemplateXMLFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "small.xml"), []byte(templateXML), 0o644); err != nil {
		t.Fatal(err)
	}
	store, _, _ := openTestTemplates(t, dir)
	c := control.New(nil, nil, store, nil, slog.New(slog.DiscardHandler))
	for i, tc := range []struct {
		file string
		ok   bool
	}{
		{"small.xml", true},
		{filepath.Join(dir, "small.xml"), true},
		{"/elsewhere/small.xml", false},
		{dir + "/small.xml/x/..", false},
		{dir + "/sub/../small.xml", false},
	} {
		name := "copy" + strconv.Itoa(i)
		err := c.PutTemplate(mib.TemplateInfo{Index: uint32(100 + i), Name: name, MemoryMb: 64, VCPUs: 1, XMLFile: tc.file})
		if (err == nil) != tc.ok {
			t.Errorf("XMLFile %q: err %v, want ok=%v", tc.file, err, tc.ok)
		}
		if _, serr := os.Stat(filepath.Join(dir, name+".xml")); (serr == nil) != tc.ok {
			t.Errorf("XMLFile %q: the new template's file: %v", tc.file, serr)
		}
	}
}

// templateXML is a base definition templateXmlFile may name.
const templateXML = "<domain type='qemu'><name>small</name><memory unit='MiB'>64</memory></domain>\n"

func openTestTemplates(t *testing.T, dir string) (*templates.Files, *registry.File, string) {
	t.Helper()
	state := t.TempDir()
	reg, err := registry.OpenFile(filepath.Join(state, registry.FileName), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	tpl, err := templates.OpenFiles(dir, state, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return tpl, reg, state
}

// TestTemplateIndexGrace: a destroyed template's index stays its file's for the grace
// period on both backends, so TemplateIndexFree (the TEST phase's check) refuses it to
// a template of another file, whose commit (Bind) would fail, and gives it back to one
// of the same file.
func TestTemplateIndexGrace(t *testing.T) {
	stores := map[string]func(t *testing.T, dir string) (templates.Store, registry.Store){
		"file": func(t *testing.T, dir string) (templates.Store, registry.Store) {
			t.Helper()
			tpl, reg, _ := openTestTemplates(t, dir)
			return tpl, reg
		},
		"etcd": func(t *testing.T, dir string) (templates.Store, registry.Store) {
			t.Helper()
			c := etcdtest.Start(t)
			logger := slog.New(slog.DiscardHandler)
			reg, err := registry.OpenEtcd(registry.EtcdConfig{Endpoints: c.Endpoints(), Prefix: "/grace/",
				DialTimeout: 10 * time.Second, Timeout: 5 * time.Second, Replica: "r1"}, logger)
			if err != nil {
				t.Fatal(err)
			}
			tpl, err := templates.OpenEtcd(templates.EtcdConfig{Client: reg.Client(), Prefix: "/grace/", Dir: dir,
				StateDir: t.TempDir(), Replica: "r1", DialTimeout: 10 * time.Second, Timeout: 5 * time.Second}, reg, logger)
			if err != nil {
				_ = reg.Close()
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = tpl.Close(); _ = reg.Close() })
			return tpl, reg
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "small.xml"), []byte(templateXML), 0o644); err != nil {
				t.Fatal(err)
			}
			store, reg := open(t, dir)
			c := control.New(nil, reg, store, nil, slog.New(slog.DiscardHandler))
			const idx = 4242
			if !c.TemplateIndexFree(idx, "gone.xml") {
				t.Fatal("an index never used is not free")
			}
			if err := c.PutTemplate(mib.TemplateInfo{Index: idx, Name: "gone", MemoryMb: 64, VCPUs: 1, XMLFile: "small.xml"}); err != nil {
				t.Fatal(err)
			}
			if c.TemplateIndexFree(idx, "other.xml") {
				t.Fatal("the index of a live template is free")
			}
			if err := c.DeleteTemplate(idx); err != nil {
				t.Fatal(err)
			}
			if c.TemplateIndexFree(idx, "other.xml") {
				t.Fatal("a destroyed template's index is free for another file during its grace period")
			}
			if err := c.PutTemplate(mib.TemplateInfo{Index: idx, Name: "other", MemoryMb: 64, VCPUs: 1, XMLFile: "small.xml"}); !errors.Is(err, registry.ErrTaken) {
				t.Fatalf("commit of another file at the reserved index: %v, want ErrTaken (what TEST now spares)", err)
			}
			if !c.TemplateIndexFree(idx, "gone.xml") {
				t.Fatal("the reserved index is not free for its own file")
			}
			if err := c.PutTemplate(mib.TemplateInfo{Index: idx, Name: "gone", MemoryMb: 64, VCPUs: 1, XMLFile: "small.xml"}); err != nil {
				t.Fatalf("the template back at its index: %v", err)
			}
		})
	}
}
