package registry

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUUIDKeys(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 100 {
		var u [16]byte
		for i := range u {
			u[i] = byte(rnd.Uint32())
		}
		s := formatUUID(u)
		if got, ok := parseUUID(s); !ok || got != u {
			t.Fatalf("%s: parsed %x, %v", s, got, ok)
		}
	}
	const canon = "0f1ee700-0001-4000-8000-00000000abcd"
	for _, k := range []string{strings.ToUpper(canon), strings.ReplaceAll(canon, "-", ""), canon[:35] + "g",
		canon[:8] + "x" + canon[9:], canon + "0", "{" + canon[1:], ""} {
		if _, ok := parseUUID(k); ok {
			t.Errorf("%q taken for a canonical UUID", k)
		}
	}

	// Canonical UUIDs, kept as bytes, and other keys share one namespace, with their
	// numbers, their releases and the file's text.
	path := filepath.Join(t.TempDir(), "indexes.json")
	r := openTestRegistry(t, path)
	keys := []string{canon, strings.ToUpper(canon), "a", canon[:35] + "e"}
	for i, k := range keys {
		if id := r.Index(NSVM, k); id != uint32(i+1) {
			t.Fatalf("%q: %d, want %d", k, id, i+1)
		}
	}
	r.Release(NSVM, canon)
	if rel, ok := r.Released(NSVM, canon); !rel || !ok {
		t.Errorf("%q: released %v, held %v", canon, rel, ok)
	}
	if rel, _ := r.Released(NSVM, strings.ToUpper(canon)); rel {
		t.Errorf("releasing %q released its upper-case twin", canon)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || !bytes.Contains(data, []byte(`"`+canon+`": {`)) {
		t.Fatalf("file (%v) has no key %q:\n%s", err, canon, data)
	}
	r2 := openTestRegistry(t, path)
	t.Cleanup(func() { _ = r2.Close() })
	for i, k := range keys {
		if id, ok := r2.Lookup(NSVM, k); !ok || id != uint32(i+1) {
			t.Errorf("after reopen %q: %d, %v; want %d", k, id, ok, i+1)
		}
	}
	if rel, _ := r2.Released(NSVM, canon); !rel {
		t.Errorf("after reopen %q is not released", canon)
	}
}
