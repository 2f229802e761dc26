package registry

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math/bits"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
)

func openTestRegistry(t *testing.T, path string, opts ...Option) *File {
	t.Helper()
	r, err := OpenFile(path, slog.New(slog.DiscardHandler), opts...)
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	return r
}

func TestRegistryPersistsAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "indexes.json")
	r := openTestRegistry(t, path)
	want := map[[2]string]uint32{}
	for _, k := range [][2]string{
		{NSVM, "a"}, {NSVM, "b"}, {NSStorage, "1/vda"}, {NSVM, "c"}, {NSStorage, "1/vdb"},
	} {
		want[k] = r.Index(k[0], k[1])
	}
	if want[[2]string{NSVM, "a"}] != 1 || want[[2]string{NSVM, "c"}] != 3 ||
		want[[2]string{NSStorage, "1/vdb"}] != 2 {
		t.Fatalf("ids not allocated per namespace from 1: %v", want)
	}
	r.Release(NSVM, "b")
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	r2 := openTestRegistry(t, path)
	t.Cleanup(func() { _ = r2.Close() })
	for k, id := range want {
		if got := r2.Index(k[0], k[1]); got != id {
			t.Errorf("after reopen %v = %d, want %d", k, got, id)
		}
	}
	if got := r2.Index(NSVM, "d"); got != 4 {
		t.Errorf("new key after reopen = %d, want 4 (counter persisted)", got)
	}
}

func TestRegistryNoReuseAfterRelease(t *testing.T) {
	clk := testkit.NewClock()
	r := openTestRegistry(t, filepath.Join(t.TempDir(), "i.json"),
		WithGrace(time.Hour), WithClock(clk.Now))
	t.Cleanup(func() { _ = r.Close() })

	a := r.Index(NSVM, "a")
	r.Release(NSVM, "a")
	if b := r.Index(NSVM, "b"); b == a {
		t.Fatalf("released id %d reused for another key", a)
	}
	clk.Add(30 * time.Minute)
	if got := r.Index(NSVM, "a"); got != a {
		t.Fatalf("key back within grace got %d, want its old id %d", got, a)
	}
	r.Release(NSVM, "a")
	clk.Add(2 * time.Hour)
	if _, ok := r.Lookup(NSVM, "a"); ok {
		t.Fatalf("Lookup after grace still finds the key")
	}
	got := r.Index(NSVM, "a")
	if got == a || got != 3 {
		t.Fatalf("key back after grace got %d, want a fresh id 3", got)
	}
}

func TestRegistryWrapsWithoutCollision(t *testing.T) {
	r := openTestRegistry(t, filepath.Join(t.TempDir(), "i.json"))
	t.Cleanup(func() { _ = r.Close() })
	r.Index(NSVM, "one") // 1
	r.mu.Lock()
	r.spaces[NSVM].Last = MaxIndex
	r.mu.Unlock()
	if got := r.Index(NSVM, "two"); got != 2 {
		t.Fatalf("after wrap got %d, want 2 (1 is taken)", got)
	}
}

func TestRegistryCorruptFile(t *testing.T) {
	tests := []struct {
		name, content string
	}{
		{"not json", "{nope"},
		{"truncated", `{"version":1,"namespaces":{"vm":{"last":2,"entries":{"a":{"id":1}`},
		{"wrong version", `{"version":9,"namespaces":{}}`},
		{"no namespaces", `{"version":1}`},
		{"zero id", `{"version":1,"namespaces":{"vm":{"last":2,"entries":{"a":{"id":0}}}}}`},
		{"duplicate id", `{"version":1,"namespaces":{"vm":{"last":2,"entries":{"a":{"id":1},"b":{"id":1}}}}}`},
		{"id out of range", `{"version":1,"namespaces":{"vm":{"last":2,"entries":{"a":{"id":4294967295}}}}}`},
		{"empty", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "indexes.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := OpenFile(path, slog.New(slog.DiscardHandler))
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestRegistryBatchedBackgroundFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "indexes.json")
	r := openTestRegistry(t, path, WithFlushDelay(10*time.Millisecond))
	t.Cleanup(func() { _ = r.Close() })
	id := r.Index(NSHost, "kvm-1")
	testkit.WaitFor(t, 90*time.Second, "registry file written in the background", func() bool {
		data, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		var f regFile
		if json.Unmarshal(data, &f) != nil || f.Namespaces[NSHost] == nil {
			return false
		}
		e := f.Namespaces[NSHost].Entries["kvm-1"]
		return e != nil && e.ID == id
	})
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*.tmp"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestRegistryUnwritableDir(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenFile(filepath.Join(dir, "missing-dir", "indexes.json"), slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("OpenFile in a missing directory succeeded")
	}
	// A directory that goes away later: the final write on Close reports it.
	sub := filepath.Join(dir, "state")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	r := openTestRegistry(t, filepath.Join(sub, "indexes.json"), WithFlushDelay(time.Hour))
	if err := os.RemoveAll(sub); err != nil {
		t.Fatal(err)
	}
	r.Index(NSVM, "a")
	if err := r.Close(); err == nil {
		t.Fatal("Close into a removed directory succeeded")
	}
}

func TestRegistryConcurrent(t *testing.T) {
	r := openTestRegistry(t, filepath.Join(t.TempDir(), "i.json"), WithFlushDelay(time.Millisecond))
	t.Cleanup(func() { _ = r.Close() })
	var wg sync.WaitGroup
	ids := make([][]uint32, 4)
	for g := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				key := string(rune('a' + i%50))
				ids[g] = append(ids[g], r.Index(NSVM, key))
				if i%7 == 0 {
					r.Release(NSVM, key)
				}
			}
		}()
	}
	wg.Wait()
	byKey := map[string]uint32{}
	for g := range ids {
		for i, id := range ids[g] {
			key := string(rune('a' + i%50))
			if prev, ok := byKey[key]; ok && prev != id {
				t.Fatalf("key %q got ids %d and %d", key, prev, id)
			}
			byKey[key] = id
		}
	}
}

// FuzzDecodeRegistry: whatever a damaged state file holds, decoding returns an error or
// a registry that satisfies the invariants Index relies on.
func FuzzDecodeRegistry(f *testing.F) {
	f.Add([]byte(`{"version":1,"namespaces":{"vm":{"last":2,"entries":{"a":{"id":1},"b":{"id":2,"released":"2026-01-02T03:04:05Z"}}}}}`))
	f.Add([]byte(`{"version":1,"namespaces":{"vm":null}}`))
	f.Add([]byte(`{"version":1,"namespaces":{"vm":{"last":4294967295}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		spaces, err := decodeRegistry(data)
		if err != nil {
			return
		}
		for ns, sp := range spaces {
			seen := map[uint32]bool{}
			for key, id := range sp.ids.all() {
				if id == 0 || id > MaxIndex || sp.Last > MaxIndex || seen[id] || !sp.held.has(id) {
					t.Fatalf("namespace %q key %q: invariant broken: id %d last %d", ns, key, id, sp.Last)
				}
				seen[id] = true
			}
			for key := range sp.released {
				if _, ok := sp.ids.get(key); !ok {
					t.Fatalf("namespace %q: key %q released without a number", ns, key)
				}
			}
			if n := heldCount(sp.held); n != sp.ids.len() {
				t.Fatalf("namespace %q: %d numbers held for %d keys", ns, n, sp.ids.len())
			}
		}
	})
}

// heldCount is the size of an idSet.
func heldCount(s idSet) int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// TestRegistryNextFreeAfterFailedBind: a manager's vmId or storageIndex that never made
// a row (Bind, then Unbind) leaves the counter alone, and a counter at MaxIndex (a file
// written before that fix, or a bound row at the top) finds the lowest free number.
func TestRegistryNextFreeAfterFailedBind(t *testing.T) {
	tests := []struct {
		name string
		file string // indexes.json before the test; "" for a fresh registry with key "a"
		do   func(r *File)
		want uint32
	}{
		{"bind MaxIndex then unbind", "", func(r *File) {
			if err := r.Bind(NSVM, "x", MaxIndex); err != nil {
				t.Fatal(err)
			}
			r.Unbind(NSVM, "x")
		}, 2},
		{"bind MaxIndex kept", "", func(r *File) {
			if err := r.Bind(NSVM, "x", MaxIndex); err != nil {
				t.Fatal(err)
			}
		}, 2},
		{"counter stuck at MaxIndex in the file",
			`{"version":1,"namespaces":{"vm":{"last":2147483647,"entries":{"a":{"id":1},"b":{"id":2},"top":{"id":2147483647}}}}}`,
			func(*File) {}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "indexes.json")
			if tc.file != "" {
				if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r := openTestRegistry(t, path)
			if tc.file == "" {
				r.Index(NSVM, "a")
			}
			tc.do(r)
			if got := r.NextFree(NSVM); got != tc.want {
				t.Fatalf("NextFree = %d, want %d", got, tc.want)
			}
			if got := r.Index(NSVM, "new"); got != tc.want {
				t.Fatalf("Index of a new key = %d, want %d", got, tc.want)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			r2 := openTestRegistry(t, path)
			t.Cleanup(func() { _ = r2.Close() })
			if got := r2.NextFree(NSVM); got == 0 || got == tc.want || !r2.Free(NSVM, got) {
				t.Fatalf("after reopen NextFree = %d, want a free number other than %d", got, tc.want)
			}
		})
	}
}

func TestRegistryBind(t *testing.T) {
	reg, err := OpenFile(filepath.Join(t.TempDir(), FileName), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	a := reg.Index(NSVM, "a")
	if reg.Free(NSVM, a) || !reg.Free(NSVM, a+1) || reg.Free(NSVM, 0) {
		t.Fatal("Free wrong")
	}
	if next := reg.NextFree(NSVM); next != a+1 {
		t.Fatalf("NextFree %d, want %d", next, a+1)
	}
	if err := reg.Bind(NSVM, "b", a); !errors.Is(err, ErrTaken) {
		t.Fatalf("bind to a taken index: %v", err)
	}
	if err := reg.Bind(NSVM, "b", 50); err != nil {
		t.Fatal(err)
	}
	if got := reg.Index(NSVM, "b"); got != 50 {
		t.Fatalf("bound key got %d", got)
	}
	if got := reg.Index(NSVM, "c"); got != a+1 {
		t.Fatalf("next new key got %d, want %d (a bound number leaves the counter)", got, a+1)
	}
	reg.Release(NSVM, "c")
	if reg.Free(NSVM, a+1) {
		t.Fatal("a released key's index is free during its grace period")
	}
	reg.Unbind(NSVM, "b")
	if !reg.Free(NSVM, 50) {
		t.Fatal("unbound index not free")
	}
}
