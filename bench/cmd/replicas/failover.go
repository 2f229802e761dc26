package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"
)

// targetFailover: identical answers at most this long after the manager switches.
const targetFailover = 3 * time.Second

// pair is two replicas on one etcd prefix and one fleet, both serving every VM.
type pair struct {
	a, b *gw
	want int // VMs
	ref  []string
	refT time.Duration // one walk of A before the kill
}

// startPair starts replicas "NAME-a" and "NAME-b" (listen[i] for each: HOST:PORT of
// their own, then any other) and waits until both serve every VM and agree.
func (b *bench) startPair(ctx context.Context, name string, listen [2][]string, etcd []string, netns [2]string) (*pair, error) {
	f, err := b.fleet("nodes-"+name, b.o.hosts, b.o.vms)
	if err != nil {
		return nil, err
	}
	p := &pair{want: f.Hosts * f.VMs}
	for i, r := range []string{"a", "b"} {
		g, err := b.start(f, gwConfig{name: name + "-" + r, listen: listen[i], etcd: etcd,
			prefix: "/bench-" + name + "/", netns: netns[i]})
		if err != nil {
			return nil, err
		}
		if i == 0 {
			p.a = g
		} else {
			p.b = g
		}
	}
	for _, g := range []*gw{p.a, p.b} {
		if err := b.m.waitServing(ctx, g, p.want, b.o.limit); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// reference walks the table through addr (A's) twice: what B must show after the
// kill, and the time one walk takes.
func (p *pair) reference(ctx context.Context, m *manager, addr, other string) error {
	var err error
	if p.ref, err = m.vmTable(ctx, addr); err != nil {
		return err
	}
	t0 := time.Now()
	again, err := m.vmTable(ctx, addr)
	p.refT = time.Since(t0)
	if err != nil {
		return err
	}
	if ok, diff := same(p.ref, again); !ok {
		return fmt.Errorf("two walks of A differ: %s", diff)
	}
	theirs, err := m.vmTable(ctx, other)
	if err != nil {
		return err
	}
	if ok, diff := same(p.ref, theirs); !ok {
		return fmt.Errorf("replicas a and b differ before the kill: %s", diff)
	}
	return nil
}

// untilSame walks the table through addr until a complete walk equals the reference;
// it returns the time from since to the end of that walk and the walks tried.
func (p *pair) untilSame(ctx context.Context, m *manager, addr string, since time.Time) (time.Duration, int, error) {
	for n := 1; ; n++ {
		w, err := m.vmTable(ctx, addr)
		if err == nil {
			if ok, _ := same(p.ref, w); ok {
				return time.Since(since), n, nil
			}
		}
		if ctx.Err() != nil || time.Since(since) > 2*time.Minute {
			return 0, n, fmt.Errorf("no identical walk through %s after %d tries (last error: %w)", addr, n, err)
		}
	}
}

// failover: (a) the manager switches its target from A to B when A dies.
func (b *bench) failover(ctx context.Context) error {
	if err := b.ensureEtcd(ctx); err != nil {
		return err
	}
	var listen [2][]string
	for i := range listen {
		port, err := freeUDPPort("127.0.0.1")
		if err != nil {
			return err
		}
		listen[i] = []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	}
	fmt.Printf("\n== failover (a): the manager switches its target; 2 replicas, %d hosts x %d VMs, etcd on loopback\n",
		b.o.hosts, b.o.vms)
	p, err := b.startPair(ctx, "failover", listen, b.etcd.endpoints, [2]string{})
	if err != nil {
		return err
	}
	if err := p.reference(ctx, b.m, p.a.addr, p.b.addr); err != nil {
		return err
	}
	p.a.kill(syscall.SIGKILL)
	killed := time.Now()
	took, tries, err := p.untilSame(ctx, b.m, p.b.addr, killed)
	if err != nil {
		return err
	}
	p.print("SIGKILL A, manager asks B at once", took, tries)
	return nil
}

// print prints a failover's figures next to the walk through A and the target.
func (p *pair) print(what string, took time.Duration, tries int) {
	fmt.Printf("walk of virtualMachinesTable through A before the kill  %7.3f s  (%d varbinds of %d configuration columns, %d VMs)\n",
		p.refT.Seconds(), len(p.ref), len(configColumns), p.want)
	fmt.Printf("%-55s %7.3f s  to the end of the first identical walk through B (%d walk(s))  target <= %.0f s: %s\n",
		what+":", took.Seconds(), tries, targetFailover.Seconds(), verdict(took <= targetFailover))
}
