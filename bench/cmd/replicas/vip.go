package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sharedLock is the lock of the tests and benchmarks that use network namespaces.
const sharedLock = "/run/lock/vmgate-shared-tests.lock"

// vipNet is the VIP phase's network: two namespaces standing for the replicas'
// machines, each joined to the root namespace (the manager's side, and etcd's) by a
// veth pair, and a virtual address that one of them holds at a time.
type vipNet struct {
	ns   [2]string // namespace names
	veth [2]string // root-side ends
	root [2]string // root-side addresses (etcd listens on the first)
	own  [2]string // the namespaces' addresses
	vip  string
}

func newVIPNet(prefix, net24 string) *vipNet {
	v := &vipNet{vip: net24 + ".100"}
	for i, s := range []string{"a", "b"} {
		v.ns[i], v.veth[i] = prefix+s, prefix+s
		v.root[i], v.own[i] = fmt.Sprintf("%s.%d", net24, 4*i+1), fmt.Sprintf("%s.%d", net24, 4*i+2)
	}
	return v
}

// ip runs ip(8) with args.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// up creates both namespaces (removing leftovers of a run that crashed) and gives the
// VIP to the first. Replicas bind the VIP before they hold it (ip_nonlocal_bind, as
// docs/ha.md says to do with keepalived).
func (v *vipNet) up() error {
	v.down()
	for i := range 2 {
		steps := [][]string{
			{"netns", "add", v.ns[i]},
			{"link", "add", v.veth[i], "type", "veth", "peer", "name", "eth0", "netns", v.ns[i]},
			{"addr", "add", v.root[i] + "/30", "dev", v.veth[i]},
			{"link", "set", v.veth[i], "up"},
			{"-n", v.ns[i], "addr", "add", v.own[i] + "/30", "dev", "eth0"},
			{"-n", v.ns[i], "link", "set", "eth0", "up"},
			{"-n", v.ns[i], "link", "set", "lo", "up"},
			{"-n", v.ns[i], "route", "add", "default", "via", v.root[i]},
		}
		for _, s := range steps {
			if err := ip(s...); err != nil {
				return err
			}
		}
		out, err := exec.Command("ip", "netns", "exec", v.ns[i], "sysctl", "-qw", "net.ipv4.ip_nonlocal_bind=1").CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip_nonlocal_bind in %s: %w: %s", v.ns[i], err, out)
		}
	}
	if err := ip("-n", v.ns[0], "addr", "add", v.vip+"/32", "dev", "eth0"); err != nil {
		return err
	}
	return ip("route", "replace", v.vip+"/32", "dev", v.veth[0])
}

// move gives the VIP from the first namespace to the second: what keepalived on B
// does once A stops answering (its address added, the neighbours told).
func (v *vipNet) move() error {
	if err := ip("-n", v.ns[0], "addr", "del", v.vip+"/32", "dev", "eth0"); err != nil {
		return err
	}
	if err := ip("-n", v.ns[1], "addr", "add", v.vip+"/32", "dev", "eth0"); err != nil {
		return err
	}
	return ip("route", "replace", v.vip+"/32", "dev", v.veth[1])
}

// down removes the namespaces (their veth pairs go with them) and the VIP's route.
func (v *vipNet) down() {
	_ = exec.Command("ip", "route", "del", v.vip+"/32").Run()
	for _, n := range v.ns {
		_ = exec.Command("ip", "netns", "del", n).Run()
	}
}

// vip: (b) the VIP moves from A's namespace to B's when A dies; the manager keeps
// asking the VIP. The VIP is moved right after the kill: keepalived's own detection
// time (deploy/ha/keepalived.conf) comes on top.
func (b *bench) vip(ctx context.Context) error {
	lock, err := os.OpenFile(sharedLock, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	fmt.Fprintln(os.Stderr, "replicas: waiting for", sharedLock)
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	v := newVIPNet(b.o.netns, b.o.vipNet)
	if err := v.up(); err != nil {
		v.down()
		return err
	}
	defer v.down()
	dir := filepath.Join(b.work, "etcd-vip")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	etcd, err := startEtcd(ctx, dir, v.root[0])
	if err != nil {
		return err
	}
	defer etcd.stop()
	port, err := freeUDPPort("127.0.0.1")
	if err != nil {
		return err
	}
	p := strconv.Itoa(port)
	var listen [2][]string
	for i := range listen {
		listen[i] = []string{net.JoinHostPort(v.own[i], p), net.JoinHostPort(v.vip, p)}
	}
	vipAddr := net.JoinHostPort(v.vip, p)
	fmt.Printf("\n== failover (b): a VIP (%s) moves from A's network namespace to B's; 2 replicas, %d hosts x %d VMs\n",
		vipAddr, b.o.hosts, b.o.vms)
	pr, err := b.startPair(ctx, "vip", listen, etcd.endpoints, v.ns)
	if err != nil {
		return err
	}
	if err := pr.reference(ctx, b.m, vipAddr, pr.b.addr); err != nil {
		return err
	}
	pr.a.kill(syscall.SIGKILL)
	killed := time.Now()
	if err := v.move(); err != nil {
		return err
	}
	moved := time.Since(killed)
	took, tries, err := pr.untilSame(ctx, b.m, vipAddr, killed)
	if err != nil {
		return err
	}
	pr.print(fmt.Sprintf("SIGKILL A, VIP moved (%.0f ms), manager asks the VIP", ms(moved)), took, tries)
	return nil
}
