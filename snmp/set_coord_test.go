package snmp

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// lostLocks is the coordinator of an engine alone, whose locks are lost (Held fails)
// while lost is set.
type lostLocks struct {
	mu   sync.Mutex
	lost error
}

func (l *lostLocks) Lock(context.Context, *Request, []SetVar) (func(), error) { return func() {}, nil }
func (l *lostLocks) Held(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}
func (l *lostLocks) Seen(context.Context, string, [sha256.Size]byte, time.Duration) (bool, error) {
	return true, nil
}
func (l *lostLocks) Answer(context.Context, [sha256.Size]byte) ([]byte, bool, error) {
	return nil, false, nil
}
func (l *lostLocks) StoreAnswer(context.Context, [sha256.Size]byte, []byte, time.Duration) error {
	return nil
}

// TestSetFencedAfterTest: a SET whose locks are lost between TEST and COMMIT (Held
// fails) commits nothing and answers resourceUnavailable; the same SET sent again
// once the locks hold runs (the refusal is not kept as its answer).
func TestSetFencedAfterTest(t *testing.T) {
	coord := &lostLocks{lost: errors.New("etcd: set locks lost")}
	_, addr := startEngine(t, baseConfig(t), WithSetCoordinator(coord))
	v2 := v2client(t, addr, "private", gosnmp.Version2c)
	set := []gosnmp.SnmpPDU{{Name: oidStr(testRoot, 2, 1), Type: gosnmp.Integer, Value: 50}}
	get := func() any {
		t.Helper()
		res, err := v2.Get([]string{oidStr(testRoot, 2, 1)})
		if err != nil {
			t.Fatal(err)
		}
		return res.Variables[0].Value
	}
	res, err := v2.Set(set)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.ResourceUnavailable || res.ErrorIndex != 1 {
		t.Fatalf("SET with its locks lost: %v index %d, want resourceUnavailable index 1", res.Error, res.ErrorIndex)
	}
	if v := get(); v != 10 {
		t.Fatalf("value %v after a fenced SET, want 10 (nothing committed)", v)
	}
	coord.mu.Lock()
	coord.lost = nil
	coord.mu.Unlock()
	if res, err := v2.Set(set); err != nil || res.Error != gosnmp.NoError {
		t.Fatalf("SET with its locks held: %v, %v", res, err)
	}
	if v := get(); v != 50 {
		t.Fatalf("value %v, want 50", v)
	}
}
