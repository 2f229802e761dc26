package hosts

import (
	"context"
	"testing"
	"time"
)

// A host that waits for an open slot longer than connect_timeout is not failed for it:
// it opens once the slot is free, without a failed attempt.
func TestOpenSlotWaitIsNotConnectTimeout(t *testing.T) {
	requireLibvirtd(t)
	slots := NewOpenSlots(1)
	release, err := slots.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg := privateTestHost(t, "slots")
	cfg.ConnectTimeout = time.Second
	sink := newFakeSink()
	s := startSupervisor(t, cfg, sink, WithOpenSlots(slots))
	time.Sleep(cfg.ConnectTimeout * 3 / 2) // past connect_timeout, waiting for the slot
	if h := s.Health(); h.Status == Up || h.LastError != "" {
		t.Fatalf("health while the slot is taken = %+v, want not up and no error", h)
	}
	release()
	waitUp(t, sink)
	if h := s.Health(); h.LastError != "" {
		t.Errorf("health = %+v, want no error", h)
	}
	if _, err := slots.acquire(context.Background()); err != nil { // the open gave its slot back
		t.Fatal(err)
	}
}

func TestOpenSlotsAcquire(t *testing.T) {
	var none *OpenSlots
	if release, err := none.acquire(context.Background()); err != nil {
		t.Fatal(err)
	} else {
		release()
	}
	o := NewOpenSlots(1)
	release, err := o.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := o.acquire(ctx); err == nil {
		t.Fatal("acquire of a full OpenSlots with a done context succeeded")
	}
	release()
	if _, err := o.acquire(context.Background()); err != nil {
		t.Fatalf("acquire of a released slot: %v", err)
	}
}
