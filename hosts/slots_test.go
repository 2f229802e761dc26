package hosts

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
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

// Hosts that do not answer (a rack powered off, a routed subnet lost: the dial waits
// for its SYN until connect_timeout) hold their open slots all that while, so as many
// of them as there are slots keep every other host from even dialing until one of them
// gives up: the others' reconnects wait connect_timeout for each round of them.
func TestOpenSlotsUnreachableHostsDoNotHoldOthers(t *testing.T) {
	const n = 64 // gateway's openSlots
	slots := NewOpenSlots(n)
	var gaveUp atomic.Int32
	entered := make(chan struct{}, n)
	hang := WithDialer(func(ctx context.Context) (net.Conn, error) {
		entered <- struct{}{}
		<-ctx.Done()
		gaveUp.Add(1)
		return nil, ctx.Err()
	})
	for i := range n {
		cfg := testHost(t, fmt.Sprintf("unreachable-%d", i))
		cfg.ConnectTimeout = 5 * time.Second
		startSupervisor(t, cfg, newFakeSink(), WithOpenSlots(slots), hang, WithBackoffStart(time.Hour))
	}
	for range n {
		<-entered
	}
	dialed := make(chan int32, 1)
	startSupervisor(t, testHost(t, "reachable"), newFakeSink(), WithOpenSlots(slots), WithBackoffStart(time.Hour),
		WithDialer(func(context.Context) (net.Conn, error) {
			select {
			case dialed <- gaveUp.Load():
			default:
			}
			return nil, errors.New("refused")
		}))
	if g := <-dialed; g != 0 {
		t.Errorf("the reachable host dialed only after %d unreachable hosts gave up at connect_timeout", g)
	}
}
