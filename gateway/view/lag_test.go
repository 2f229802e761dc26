package view

import (
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/hosts"
)

// lagStore models the etcd registry when its mirror.Wait gives up: Index returns a new
// key's number before Lookup (the mirror) shows it; the mirror catches up just after.
type lagStore struct {
	*registry.File
	mu     sync.Mutex
	hidden map[string]bool
}

func (l *lagStore) Index(ns, key string) uint32 {
	_, had := l.File.Lookup(ns, key)
	id := l.File.Index(ns, key)
	if ns == registry.NSVM && !had {
		l.mu.Lock()
		l.hidden[key] = true
		l.mu.Unlock()
	}
	return id
}

func (l *lagStore) Lookup(ns, key string) (uint32, bool) {
	l.mu.Lock()
	h := ns == registry.NSVM && l.hidden[key]
	l.mu.Unlock()
	if h {
		return 0, false
	}
	return l.File.Lookup(ns, key)
}

func (l *lagStore) catchUp() { l.mu.Lock(); clear(l.hidden); l.mu.Unlock() }

// A registry whose Lookup shows a new vmId only after Index gave it (etcd's mirror
// behind) must not make the view release the key of a VM it just wrote, nor miss the
// change.
func TestLaggingLookupKeepsANewVMsKey(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	f, err := registry.OpenFile(filepath.Join(t.TempDir(), registry.FileName), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	reg := &lagStore{File: f, hidden: map[string]bool{}}
	v, err := New(reg, logger)
	if err != nil {
		t.Fatal(err)
	}
	var u hosts.UUID
	u[15] = 7
	d := hosts.Domain{UUID: u, Name: "vm7", ID: -1, State: hosts.StateShutoff}
	v.Synced("a", hosts.Inventory{Domains: []hosts.Domain{d}})
	reg.catchUp()
	r, ok := v.Read().VMByUUID("a", u)
	if !ok {
		t.Fatal("record missing")
	}
	if rel, _ := f.Released(registry.NSVM, u.String()); rel {
		t.Errorf("vmId %d of a VM with a record is released", r.VMID)
	}
	if v.TableChanged("a").IsZero() {
		t.Errorf("vmTableLastChange not moved by the new VM")
	}
}
