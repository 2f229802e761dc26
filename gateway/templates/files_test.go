package templates

import (
	"github.com/vmgate/vmgate/gateway/registry"

	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openTestTemplates(t *testing.T, dir string) (*Files, *registry.File, string) {
	t.Helper()
	state := t.TempDir()
	reg, err := registry.OpenFile(filepath.Join(state, registry.FileName), discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	tpl, err := OpenFiles(dir, state, reg, discard())
	if err != nil {
		t.Fatal(err)
	}
	return tpl, reg, state
}

// smallXML is a template as an operator writes one: what the store reads of it is the
// name, the memory and the vCPUs.
const smallXML = `<domain type='qemu'>
  <name>small</name>
  <memory unit='MiB'>64</memory>
  <vcpu current='1'>2</vcpu>
  <os><type>hvm</type></os>
</domain>
`

func TestTemplatesStore(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "small.xml"), []byte(smallXML), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.xml"), []byte("<nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	tpl, reg, state := openTestTemplates(t, dir)
	rows := tpl.List()
	if len(rows) != 1 || rows[0].Name != "small" || rows[0].MemoryMb != 64 || rows[0].VCPUs != 1 || rows[0].MaxVCPUs != 2 {
		t.Fatalf("rows %+v", rows)
	}
	small := rows[0]
	if idx, ok := reg.Lookup(registry.NSTemplate, "small.xml"); !ok || idx != small.Index {
		t.Fatalf("registry index %d %v, row %d", idx, ok, small.Index)
	}
	if vm, _ := tpl.Current(); vm != 0 {
		t.Fatalf("current %d before any choice", vm)
	}
	if err := tpl.SetCurrent(small.Index, 0); err != nil {
		t.Fatal(err)
	}

	// A SET-created template: written atomically, bound to the manager's index.
	if err := tpl.Put(Template{Index: 40, File: "big.xml", Image: 3, XML: strings.Replace(smallXML, "small", "big", 1)}); err != nil {
		t.Fatal(err)
	}
	big, ok := tpl.Get(40)
	if !ok || big.Name != "big" || big.Image != 3 {
		t.Fatalf("big %+v %v", big, ok)
	}
	if err := tpl.Put(Template{File: "../evil.xml"}); err == nil {
		t.Fatal("a path outside the directory was accepted")
	}

	// State survives a reopen.
	tpl2, err := OpenFiles(dir, state, reg, discard())
	if err != nil {
		t.Fatal(err)
	}
	if vm, _ := tpl2.Current(); vm != small.Index {
		t.Fatalf("current after reopen %d, want %d", vm, small.Index)
	}
	if b, _ := tpl2.Get(40); b.Image != 3 {
		t.Fatalf("image after reopen %d", b.Image)
	}

	// The current template's file removed: it reads 0.
	if err := tpl2.Delete(small.Index); err != nil {
		t.Fatal(err)
	}
	if vm, _ := tpl2.Current(); vm != 0 {
		t.Fatalf("current %d after its file went", vm)
	}
	if err := tpl2.Delete(small.Index); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("second delete: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*tmp"))
	if len(left) != 0 {
		t.Fatalf("temp files left: %v", left)
	}
}

// TestTemplatesPutKeepsOtherFile: a template row created by SET with the name of an
// existing template used to overwrite that file (templateRowStatus.3 createAndGo
// domainTemplateName.3 "small" replaced small.xml, row 1 vanished and the current
// template read 0).
func TestTemplatesPutKeepsOtherFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "small.xml"), []byte(smallXML), 0o644); err != nil {
		t.Fatal(err)
	}
	tpl, _, _ := openTestTemplates(t, dir)
	rows := tpl.List()
	if len(rows) != 1 {
		t.Fatalf("rows %+v", rows)
	}
	if !tpl.FileExists("small.xml") || tpl.FileExists("big.xml") {
		t.Fatal("FileExists wrong")
	}
	err := tpl.Put(Template{Index: rows[0].Index + 1, File: "small.xml", XML: "<domain><name>small</name></domain>"})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Put over another template's file: %v, want ErrExist", err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "small.xml"))
	if string(data) != smallXML {
		t.Fatalf("small.xml changed:\n%s", data)
	}
	if got, ok := tpl.Get(rows[0].Index); !ok || got.Name != "small" {
		t.Fatalf("template %d after the refused Put: %+v %v", rows[0].Index, got, ok)
	}
}

// TestTemplatesFirstIndexesByName: templates first seen together are numbered in file
// name order, so a fresh gateway numbers a directory the same way every time (they used
// to be numbered in map order: TestMIBGolden's two templates swapped now and then).
func TestTemplatesFirstIndexesByName(t *testing.T) {
	names := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}
	for run := 0; run < 5; run++ {
		dir := t.TempDir()
		for _, n := range slices.Backward(names) {
			x := strings.Replace(smallXML, "<name>small</name>", "<name>"+n+"</name>", 1)
			if err := os.WriteFile(filepath.Join(dir, n+".xml"), []byte(x), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		tpl, _, _ := openTestTemplates(t, dir)
		rows := tpl.List()
		if len(rows) != len(names) {
			t.Fatalf("run %d: %d rows, want %d", run, len(rows), len(names))
		}
		for i, r := range rows {
			if r.Name != names[i] || r.Index != uint32(i+1) {
				t.Fatalf("run %d: row %d is %s with index %d, want %s with index %d", run, i, r.Name, r.Index, names[i], i+1)
			}
		}
	}
}

// zeroRegistry numbers nothing new, as the etcd registry while it has no quorum.
type zeroRegistry struct {
	registry.Store
	down bool
}

func (r *zeroRegistry) Index(ns, key string) uint32 {
	if r.down {
		return 0
	}
	return r.Store.Index(ns, key)
}

// TestTemplatesWaitForIndexes: a template file the registry cannot number is not
// listed (no index 0), and is once the registry numbers again, the directory unchanged.
func TestTemplatesWaitForIndexes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "small.xml"), []byte(smallXML), 0o644); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	reg, err := registry.OpenFile(filepath.Join(state, registry.FileName), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	zr := &zeroRegistry{Store: reg, down: true}
	tpl, err := OpenFiles(dir, state, zr, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if rows := tpl.List(); len(rows) != 0 {
		t.Fatalf("listed without an index: %+v", rows)
	}
	zr.down = false
	if rows := tpl.List(); len(rows) != 1 || rows[0].Index == 0 {
		t.Fatalf("after the registry came back: %+v", rows)
	}
}
