// Package enables keeps VM-MIB's two notification enables, vmPerVMNotificationsEnabled
// and vmBulkNotificationsEnabled, in the state directory (FileName), so that a SET
// survives a restart. With the etcd registry each replica keeps its own: the enables
// say what this agent sends.
package enables

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/vmgate/vmgate/gateway/internal/atomicfile"
)

// FileName is the enables' file in the state directory.
const FileName = "vm-mib.json"

// The values before any SET: per-VM notifications on, bulk ones off (the RFC gives no
// default; a manager that wants the bulk forms turns them on).
const (
	DefaultPerVM = true
	DefaultBulk  = false
)

// File is the enables and their file. The notifier reads PerVM and Bulk; the VM-MIB
// handler sets them (mib.StdEnables). Safe for concurrent use.
type File struct {
	path string

	mu    sync.Mutex
	state state
}

type state struct {
	PerVM bool `json:"vmPerVMNotificationsEnabled"`
	Bulk  bool `json:"vmBulkNotificationsEnabled"`
}

// Open reads the enables from dir's FileName; a missing file gives the defaults. A file
// that cannot be read or parsed is an error naming it (the gateway does not start
// with values a manager did not choose).
func Open(dir string) (*File, error) {
	f := &File{path: filepath.Join(dir, FileName), state: state{PerVM: DefaultPerVM, Bulk: DefaultBulk}}
	data, err := os.ReadFile(f.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return f, nil
	case err != nil:
		return nil, fmt.Errorf("vm-mib enables: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("vm-mib enables %s: %w", f.path, err)
	}
	for name, dst := range map[string]*bool{"vmPerVMNotificationsEnabled": &f.state.PerVM,
		"vmBulkNotificationsEnabled": &f.state.Bulk} {
		if v, ok := raw[name]; ok {
			if err := json.Unmarshal(v, dst); err != nil {
				return nil, fmt.Errorf("vm-mib enables %s: %s: want true or false: %w", f.path, name, err)
			}
		}
	}
	return f, nil
}

// PerVM is vmPerVMNotificationsEnabled.
func (f *File) PerVM() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state.PerVM
}

// Bulk is vmBulkNotificationsEnabled.
func (f *File) Bulk() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state.Bulk
}

// SetPerVM sets vmPerVMNotificationsEnabled and writes the file; on a write error the
// value stays as it was.
func (f *File) SetPerVM(on bool) error { return f.set(func(s *state) { s.PerVM = on }) }

// SetBulk sets vmBulkNotificationsEnabled, as SetPerVM.
func (f *File) SetBulk(on bool) error { return f.set(func(s *state) { s.Bulk = on }) }

func (f *File) set(edit func(*state)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := f.state
	edit(&next)
	data, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(f.path, append(data, '\n')); err != nil {
		return fmt.Errorf("vm-mib enables: %w", err)
	}
	f.state = next
	return nil
}
