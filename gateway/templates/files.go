package templates

import (
	"cmp"

	"github.com/vmgate/vmgate/gateway/internal/atomicfile"
	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/hosts"

	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// StateFile is the template store's state (current templates, disk images of
// templates) inside snmp.state_dir.
const StateFile = "templates.json"

// Files is the Store of one gateway: the *.xml files of templates.dir, read again
// when they change, and the choice of current templates, persisted in the state file
// of snmp.state_dir. Safe for concurrent use.
type Files struct {
	dir    string
	state  string
	reg    registry.Store
	logger *slog.Logger

	mu      sync.Mutex
	st      templateState
	rows    []Template // by Index
	scanned map[string]fileStamp
}

type templateState struct {
	Current uint32            `json:"current"`
	Storage uint32            `json:"storage"`
	Images  map[string]uint32 `json:"images,omitempty"` // file -> templateDiskImageIndex
}

type fileStamp struct {
	size  int64
	mtime int64
}

// OpenFiles opens the store of dir ("" : no templates) with its state in stateDir.
func OpenFiles(dir, stateDir string, reg registry.Store, logger *slog.Logger) (*Files, error) {
	t := &Files{dir: dir, state: filepath.Join(stateDir, StateFile), reg: reg, logger: logger}
	data, err := os.ReadFile(t.state)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("templates state: %w", err)
	default:
		if err := json.Unmarshal(data, &t.st); err != nil {
			return nil, fmt.Errorf("templates state %s: %w", t.state, err)
		}
	}
	if t.st.Images == nil {
		t.st.Images = map[string]uint32{}
	}
	return t, nil
}

// Dir is the template directory ("" when templates are disabled).
func (t *Files) Dir() string { return t.dir }

// List returns every template, by Index.
func (t *Files) List() []Template {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rescan()
	return slices.Clone(t.rows)
}

// Get returns the template with index idx.
func (t *Files) Get(idx uint32) (Template, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rescan()
	i, ok := slices.BinarySearchFunc(t.rows, idx, func(r Template, idx uint32) int { return cmp.Compare(r.Index, idx) })
	if !ok {
		return Template{}, false
	}
	return t.rows[i], true
}

// Current returns virtualMachineTemplate and storageTemplate; a current template whose
// file disappeared reads 0.
func (t *Files) Current() (vm, storage uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rescan()
	vm = t.st.Current
	if _, ok := slices.BinarySearchFunc(t.rows, vm, func(r Template, idx uint32) int { return cmp.Compare(r.Index, idx) }); !ok {
		vm = 0
	}
	return vm, t.st.Storage
}

// SetCurrent persists the current templates; vm must be a template's index or 0.
func (t *Files) SetCurrent(vm, storage uint32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.st
	st.Current, st.Storage = vm, storage
	if err := t.save(st); err != nil {
		return err
	}
	t.st = st
	return nil
}

// Available is always nil: the directory is written or the write fails.
func (t *Files) Available() error { return nil }

// Close does nothing: Files has no background work.
func (t *Files) Close() error { return nil }

// FileExists reports whether the directory has an entry name (a template or not).
func (t *Files) FileExists(name string) bool {
	if t.dir == "" {
		return false
	}
	_, err := os.Lstat(filepath.Join(t.dir, name))
	return err == nil
}

// Put writes a template: its file (temp + fsync + rename) and its disk image. A new
// file gets index tpl.Index (Bind) when not 0; it must not replace an existing file
// (fs.ErrExist), which belongs to another template.
func (t *Files) Put(tpl Template) error {
	if t.dir == "" {
		return errors.New("templates.dir is not configured")
	}
	if tpl.File == "" || filepath.Base(tpl.File) != tpl.File || !strings.HasSuffix(tpl.File, ".xml") {
		return fmt.Errorf("template file name %q: want a plain name ending in .xml", tpl.File)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if tpl.Index != 0 {
		if _, err := os.Lstat(tpl.Path(t.dir)); err == nil {
			return fmt.Errorf("template %s: %w", tpl.File, fs.ErrExist)
		}
		if err := t.reg.Bind(registry.NSTemplate, tpl.File, tpl.Index); err != nil {
			return err
		}
	}
	if err := atomicfile.Write(tpl.Path(t.dir), []byte(tpl.XML)); err != nil {
		return fmt.Errorf("template %s: %w", tpl.File, err)
	}
	st := t.st
	st.Images = maps.Clone(t.st.Images)
	st.Images[tpl.File] = tpl.Image
	if err := t.save(st); err != nil {
		return err
	}
	t.st = st
	t.scanned = nil
	return nil
}

// Delete removes the template file of idx.
func (t *Files) Delete(idx uint32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rescan()
	for _, r := range t.rows {
		if r.Index != idx {
			continue
		}
		if err := os.Remove(r.Path(t.dir)); err != nil {
			return fmt.Errorf("template %s: %w", r.File, err)
		}
		t.reg.Release(registry.NSTemplate, r.File)
		t.scanned = nil
		return nil
	}
	return fmt.Errorf("template %d: %w", idx, fs.ErrNotExist)
}

func (t *Files) save(st templateState) error {
	data, err := json.MarshalIndent(st, "", " ")
	if err == nil {
		err = atomicfile.Write(t.state, data)
	}
	if err != nil {
		return fmt.Errorf("templates state %s: %w", t.state, err)
	}
	return nil
}

// rescan re-reads the directory when a file was added, removed or changed. Called with
// t.mu held. A file that is not a domain definition is logged and skipped.
func (t *Files) rescan() {
	if t.dir == "" {
		return
	}
	ents, err := os.ReadDir(t.dir)
	if err != nil {
		t.logger.Warn("template directory unreadable", "dir", t.dir, "err", err)
		return
	}
	stamps := map[string]fileStamp{}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".xml") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if fi, err := e.Info(); err == nil {
			stamps[e.Name()] = fileStamp{fi.Size(), fi.ModTime().UnixNano()}
		}
	}
	if t.scanned != nil && maps.Equal(stamps, t.scanned) {
		return
	}
	rows := make([]Template, 0, len(stamps))
	complete := true
	// By file name, not map order: files seen for the first time get their indexes in
	// a stable order (a fresh gateway numbers the same directory the same way).
	for _, name := range slices.Sorted(maps.Keys(stamps)) {
		tpl, err := readTemplate(t.dir, name)
		if err != nil {
			t.logger.Warn("template skipped", "file", filepath.Join(t.dir, name), "err", err)
			continue
		}
		if tpl.Index = t.reg.Index(registry.NSTemplate, name); tpl.Index == 0 {
			complete = false // the registry cannot number it now: the next call scans again
			continue
		}
		tpl.Image = t.st.Images[name]
		rows = append(rows, tpl)
	}
	slices.SortFunc(rows, func(a, b Template) int { return cmp.Compare(a.Index, b.Index) })
	t.rows, t.scanned = rows, stamps
	if !complete {
		t.scanned = nil
	}
}

func readTemplate(dir, name string) (Template, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return Template{}, err
	}
	return parseTemplate(name, data)
}

// parseTemplate reads the row's columns (Index and Image aside) from the definition
// data of the template named file.
func parseTemplate(name string, data []byte) (Template, error) {
	h, err := hosts.ParseTemplateHead(data)
	if err != nil {
		return Template{}, err
	}
	tpl := Template{File: name, Name: h.Name, VCPUs: h.VCPUs, MaxVCPUs: h.MaxVCPUs, XML: string(data)}
	if tpl.Name == "" {
		tpl.Name = strings.TrimSuffix(name, ".xml")
	}
	tpl.MemoryMb = uint32(min(h.MemoryKiB/1024, 1<<32-1))
	if tpl.MemoryMb == 0 {
		tpl.MemoryMb = 512 // DEFVAL of templateMemoryMb
	}
	return tpl, nil
}
