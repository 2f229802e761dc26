package templates

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/registry/etcdtest"
)

// openReplica opens a replica's registry and template store on cluster c under
// prefix, closed at cleanup (the templates first: they share the registry's client).
func openReplica(t *testing.T, c *etcdtest.Cluster, prefix, replica, dir, state string, logs *testkit.Buffer) (*Etcd, *registry.Etcd) {
	t.Helper()
	logger := discard()
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	reg, err := registry.OpenEtcd(registry.EtcdConfig{
		Endpoints: c.Endpoints(), Prefix: prefix, DialTimeout: 10 * time.Second,
		// Generous: a loaded test machine must not pass for an etcd outage.
		Timeout: 5 * time.Second, Replica: replica,
	}, logger)
	if err != nil {
		t.Fatalf("registry.OpenEtcd: %v", err)
	}
	tpl, err := OpenEtcd(EtcdConfig{Client: reg.Client(), Prefix: prefix, Dir: dir, StateDir: state,
		Replica: replica, DialTimeout: 10 * time.Second, Timeout: 5 * time.Second}, reg, logger)
	if err != nil {
		_ = reg.Close()
		t.Fatalf("templates.OpenEtcd: %v", err)
	}
	t.Cleanup(func() { _ = tpl.Close(); _ = reg.Close() })
	return tpl, reg
}

// names returns "index:name" of every template s lists.
func names(s Store) string {
	var out []string
	for _, t := range s.List() {
		out = append(out, fmt.Sprintf("%d:%s", t.Index, t.Name))
	}
	return strings.Join(out, ",")
}

func domainXML(name string, mib int) string {
	return fmt.Sprintf("<domain type='qemu'><name>%s</name><memory unit='MiB'>%d</memory><vcpu>1</vcpu></domain>", name, mib)
}

// TestEtcdReplicasShareTemplates: a template created on one replica is listed by the
// other, selected there, refused for destruction while current, destroyed once it is
// not; a replica opened later reads the rows and the choice.
func TestEtcdReplicasShareTemplates(t *testing.T) {
	c := etcdtest.Start(t)
	a, _ := openReplica(t, c, "/share/", "a", "", "", nil)
	b, regB := openReplica(t, c, "/share/", "b", "", "", nil)

	if err := a.Put(Template{Index: 5, File: "web.xml", Image: 3, XML: domainXML("web", 256)}); err != nil {
		t.Fatal(err)
	}
	if got := names(a); got != "5:web" {
		t.Fatalf("a lists %q right after its Put, want 5:web", got)
	}
	testkit.WaitFor(t, 30*time.Second, "b lists web", func() bool { return names(b) == "5:web" })
	if got, ok := b.Get(5); !ok || got.MemoryMb != 256 || got.Image != 3 || got.File != "web.xml" {
		t.Fatalf("b.Get(5) = %+v, %v", got, ok)
	}
	if !b.FileExists("web.xml") {
		t.Error("b: FileExists(web.xml) false for a template in etcd")
	}
	if err := b.Put(Template{Index: 6, File: "web.xml", XML: domainXML("web", 1)}); !errors.Is(err, os.ErrExist) {
		t.Fatalf("b creates web.xml again: %v, want ErrExist", err)
	}
	if !regB.Free(registry.NSTemplate, 6) {
		t.Error("the refused create left index 6 bound")
	}

	if err := b.SetCurrent(5, 9); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "a sees the choice made on b", func() bool {
		vm, st := a.Current()
		return vm == 5 && st == 9
	})
	if err := a.Delete(5); err == nil {
		t.Fatal("a destroyed the current template")
	}
	if err := b.SetCurrent(7, 0); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("choosing a template that does not exist: %v", err)
	}
	if err := a.Put(Template{Index: 8, File: "db.xml", XML: domainXML("db", 512)}); err != nil {
		t.Fatal(err)
	}
	late, _ := openReplica(t, c, "/share/", "late", "", "", nil)
	if got := names(late); got != "5:web,8:db" {
		t.Fatalf("replica opened later lists %q", got)
	}
	if vm, st := late.Current(); vm != 5 || st != 9 {
		t.Fatalf("replica opened later: current %d, %d", vm, st)
	}

	if err := b.SetCurrent(8, 0); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "a sees db chosen", func() bool { vm, _ := a.Current(); return vm == 8 })
	if err := a.Delete(5); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*Etcd{"b": b, "late": late} {
		testkit.WaitFor(t, 30*time.Second, name+" without web", func() bool {
			return names(s) == "8:db" && !s.FileExists("web.xml")
		})
	}
}

// TestEtcdImportDir: the first time a replica opens the store, the templates of its
// templates.dir and the choice of its state directory go into etcd with the indexes
// the registry had; opening again adds nothing and brings back no destroyed template;
// another replica with the same files adds nothing either.
func TestEtcdImportDir(t *testing.T) {
	c := etcdtest.Start(t)
	dir, state := t.TempDir(), t.TempDir()
	for name, body := range map[string]string{"small.xml": smallXML, "big.xml": domainXML("big", 4096), "broken.xml": "<nope"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The single gateway's state: its registry numbered big 4 and small 9.
	fileReg, err := registry.OpenFile(filepath.Join(state, registry.FileName), discard())
	if err != nil {
		t.Fatal(err)
	}
	for name, idx := range map[string]uint32{"big.xml": 4, "small.xml": 9} {
		if err := fileReg.Bind(registry.NSTemplate, name, idx); err != nil {
			t.Fatal(err)
		}
	}
	export, err := fileReg.Export()
	if err != nil {
		t.Fatal(err)
	}
	_ = fileReg.Close()
	if err := os.WriteFile(filepath.Join(state, StateFile), []byte(`{"current": 9, "storage": 2, "images": {"small.xml": 12}}`), 0o600); err != nil {
		t.Fatal(err)
	}

	_, reg := openReplica(t, c, "/import/", "importer", "", "", nil)
	if err := reg.Import(export); err != nil {
		t.Fatal(err)
	}
	a, _ := openReplica(t, c, "/import/", "a", dir, state, nil)
	if got := names(a); got != "4:big,9:small" {
		t.Fatalf("imported %q, want 4:big,9:small (numbers of the file registry)", got)
	}
	if small, _ := a.Get(9); small.Image != 12 || small.MemoryMb != 64 {
		t.Fatalf("small imported as %+v", small)
	}
	if vm, st := a.Current(); vm != 9 || st != 2 {
		t.Fatalf("current %d, %d; want 9, 2 from the state file", vm, st)
	}

	if err := a.SetCurrent(0, 0); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(4); err != nil {
		t.Fatal(err)
	}
	again, _ := openReplica(t, c, "/import/", "a", dir, state, nil)
	if got := names(again); got != "9:small" {
		t.Fatalf("reopened: %q; the destroyed template came back or another went", got)
	}
	if vm, _ := again.Current(); vm != 0 {
		t.Fatalf("reopened: current %d, the state file overrode the cluster's choice", vm)
	}
	// A second replica whose directory has the same files: small is there already;
	// big, destroyed by a, is that replica's own, which it brings in with its number.
	b, _ := openReplica(t, c, "/import/", "b", dir, state, nil)
	if got := names(b); got != "4:big,9:small" {
		t.Fatalf("second replica's import: %q", got)
	}
}

// TestEtcdQuorum: without quorum the templates are served as last seen, a create is
// refused with ErrUnavailable and leaves nothing behind, the store says it is
// unavailable and a log line names etcd; with quorum back, writes work again.
func TestEtcdQuorum(t *testing.T) {
	c := etcdtest.Start(t)
	logs := &testkit.Buffer{}
	a, _ := openReplica(t, c, "/quorum/", "a", "", "", logs)
	if err := a.Put(Template{Index: 1, File: "one.xml", XML: domainXML("one", 128)}); err != nil {
		t.Fatal(err)
	}
	if err := a.SetCurrent(1, 0); err != nil {
		t.Fatal(err)
	}

	c.Kill(0)
	c.Kill(1)
	err := a.Put(Template{Index: 2, File: "two.xml", XML: domainXML("two", 128)})
	if !errors.Is(err, ErrUnavailable) && !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("create without quorum: %v, want unavailable", err)
	}
	if err := a.Available(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Available after a failed write: %v", err)
	}
	if err := a.SetCurrent(0, 0); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("choice without quorum: %v", err)
	}
	if err := a.Delete(1); err == nil {
		t.Fatal("destroy without quorum succeeded")
	}
	if got := names(a); got != "1:one" {
		t.Fatalf("reads without quorum: %q", got)
	}
	if vm, _ := a.Current(); vm != 1 {
		t.Fatalf("current without quorum: %d", vm)
	}
	if !strings.Contains(logs.String(), "templates: etcd unreachable") {
		t.Errorf("no log line names etcd:\n%s", logs)
	}

	c.Heal()
	testkit.WaitFor(t, 60*time.Second, "the store available again", func() bool { return a.Available() == nil })
	late, lateReg := openReplica(t, c, "/quorum/", "late", "", "", nil)
	if got := names(late); got != "1:one" {
		t.Fatalf("after the outage etcd holds %q: something was half-applied", got)
	}
	testkit.WaitFor(t, 60*time.Second, "index 2 unbound", func() bool { return lateReg.Free(registry.NSTemplate, 2) })
	testkit.WaitFor(t, 60*time.Second, "a create with quorum back", func() bool {
		return a.Put(Template{Index: 2, File: "two.xml", XML: domainXML("two", 128)}) == nil
	})
	testkit.WaitFor(t, 30*time.Second, "late lists two", func() bool { return names(late) == "1:one,2:two" })
}
