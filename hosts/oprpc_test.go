package hosts

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/vmgate/vmgate/e2e/testkit"
)

// heldEvents is a fakeSink whose lifecycle events wait until the test ends: no re-read
// an event asks for runs while the test counts an operation's RPCs.
type heldEvents struct {
	*fakeSink
	release chan struct{}
}

func (h *heldEvents) DomainEvent(string, Event) { <-h.release }

// TestOperationRPCs counts the libvirt RPCs of each operation a SET makes, from the
// call to its return (when the view shows the change), on the test driver. The
// lifecycle events that follow are held back, so the figure is the operation's own.
func TestOperationRPCs(t *testing.T) {
	requireLibvirtd(t)
	sink := &heldEvents{fakeSink: newFakeSink(), release: make(chan struct{})}
	t.Cleanup(func() { close(sink.release) })
	cfg := privateTestHost(t, "oprpcs")
	cfg.KeepaliveInterval, cfg.StatsInterval = time.Hour, time.Hour // nothing else calls meanwhile
	// A pause or a resume, reported before its event, would read its state again once
	// the wait for that held event ends: not within the test.
	s := startSupervisor(t, cfg, sink, WithOpEventWait(time.Hour))
	waitUp(t, sink.fakeSink)
	testkit.WaitFor(t, 30*time.Second, "first stats", func() bool { _, _, _, n := sink.counts(); return n > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := fixRunning
	for _, op := range []struct {
		name  string
		fn    func() error
		check func(Domain) bool
		rpcs  uint64
	}{
		{"suspend", func() error { return s.Suspend(ctx, id) }, func(d Domain) bool { return d.State == StatePaused }, 1},
		{"resume", func() error { return s.Resume(ctx, id) }, func(d Domain) bool { return d.State == StateRunning }, 1},
		{"destroy", func() error { return s.Destroy(ctx, id) }, func(d Domain) bool { return d.State == StateShutoff && d.ID == -1 }, 2},
		{"start", func() error { return s.Start(ctx, id) }, func(d Domain) bool { return d.State == StateRunning && d.ID > 0 }, 2},
		{"shutdown", func() error { return s.Shutdown(ctx, id) }, func(d Domain) bool { return d.State == StateShutoff }, 2},
		{"rename", func() error { return s.Rename(ctx, id, "fix-renamed") }, func(d Domain) bool { return d.Name == "fix-renamed" }, 3},
		{"memory", func() error { return s.SetMemory(ctx, id, 524288, ApplyConfig) },
			func(d Domain) bool { return d.CurrentMemoryKiB == 524288 }, 2},
		{"maximum memory", func() error { return s.SetMaxMemory(ctx, id, 2097152) },
			func(d Domain) bool { return d.MemoryKiB == 2097152 }, 2},
		{"vcpus", func() error { return s.SetVCPUs(ctx, id, 2, ApplyConfig) }, func(d Domain) bool { return d.VCPUs == 2 }, 3},
		{"autostart", func() error { return s.SetAutostart(ctx, id, true) }, func(d Domain) bool { return d.Autostart }, 2},
	} {
		before := s.RPCs()
		if err := op.fn(); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		n := s.RPCs() - before
		d, _ := sink.domain(id)
		if !op.check(d) {
			t.Errorf("after %s the sink shows %+v", op.name, d)
		}
		t.Logf("%s: %d RPCs", op.name, n)
		if n != op.rpcs {
			t.Errorf("%s made %d RPCs, want %d", op.name, n, op.rpcs)
		}
	}
	// libvirt finds a domain by its UUID: a name the caller saw before a rename does
	// not matter. A UUID libvirt does not know is looked up once, then not found.
	if err := s.SetAutostart(ctx, Named{UUID: id, Name: "fix-running"}, false); err != nil {
		t.Fatalf("operation on a handle with an old name: %v", err)
	}
	gone := UUID{0xde, 0xad}
	before := s.RPCs()
	if err := s.Suspend(ctx, Named{UUID: gone, Name: "gone"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("suspend of an unknown domain: %v, want ErrNotFound", err)
	}
	if n := s.RPCs() - before; n != 2 {
		t.Errorf("suspend of an unknown domain made %d RPCs, want 2 (the call, one lookup)", n)
	}
}

// A pause or a resume made by someone else costs the session one state read; a start
// or a stop a whole re-read.
func TestStateEventReadsState(t *testing.T) {
	requireLibvirtd(t)
	sink := newFakeSink()
	cfg := privateTestHost(t, "stateev")
	cfg.KeepaliveInterval, cfg.StatsInterval = time.Hour, time.Hour
	s := startSupervisor(t, cfg, sink)
	waitUp(t, sink)
	testkit.WaitFor(t, 30*time.Second, "first stats", func() bool { _, _, _, n := sink.counts(); return n > 0 })
	c, err := s.conn()
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name  string
		op    func(*lv, libvirt.Domain) error
		state DomainState
		rpcs  uint64 // the lookup and the call here, then the session's read
	}{
		{"suspend", func(l *lv, d libvirt.Domain) error { return l.DomainSuspend(d) }, StatePaused, 3},
		{"resume", func(l *lv, d libvirt.Domain) error { return l.DomainResume(d) }, StateRunning, 3},
		{"destroy", func(l *lv, d libvirt.Domain) error { return l.DomainDestroy(d) }, StateShutoff, 8},
	} {
		before := s.RPCs()
		_, u0, _, _ := sink.counts()
		// Straight on the connection: an operation would read the domain itself.
		err := c.call(context.Background(), step.name, func(l *lv) error {
			d, err := l.DomainLookupByUUID(libvirt.UUID(fixRunning))
			if err != nil {
				return err
			}
			return step.op(l, d)
		})
		if err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, 30*time.Second, step.name+" seen", func() bool {
			d, _ := sink.domain(fixRunning)
			_, u, _, _ := sink.counts()
			return u > u0 && d.State == step.state
		})
		if n := s.RPCs() - before; n != step.rpcs {
			t.Errorf("%s by another client: %d RPCs, want %d", step.name, n, step.rpcs)
		}
	}
}
