// Package etcdtest starts a real three-member etcd cluster for tests: the etcd binary
// (Debian's etcd-server, installed by deploy/testbed/deps) run as child processes of the
// test on free loopback ports, with its data in the test's temporary directory. Members
// can be killed and restarted to take quorum away and give it back. Everything is
// stopped at cleanup.
package etcdtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/vmgate/vmgate/e2e/testkit"
)

// Size is the number of members: the smallest cluster that survives one member's loss.
const Size = 3

// Cluster is a running test cluster.
type Cluster struct {
	t       testing.TB
	bin     string
	members []*member
}

type member struct {
	name, clientURL, peerURL, dataDir string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  *testkit.Buffer
}

// Require returns the path of the etcd binary, or skips the test loudly (and under
// -short).
func Require(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIPPING ETCD TEST: etcd clusters are integration tests (-short)")
	}
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skipf("SKIPPING ETCD TEST: no etcd binary on PATH (deploy/testbed/deps installs etcd-server): %v", err)
	}
	return bin
}

// Start starts a three-member cluster and returns once it has a leader and answers a
// quorum read. The members are killed at cleanup; their logs are printed if the test
// failed.
func Start(t testing.TB) *Cluster {
	t.Helper()
	c := &Cluster{t: t, bin: Require(t)}
	dir := t.TempDir()
	ports := freePorts(t, 2*Size)
	var initial []string
	for i := range Size {
		m := &member{
			name:      fmt.Sprintf("m%d", i),
			clientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			peerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			dataDir:   filepath.Join(dir, fmt.Sprintf("m%d", i)),
			log:       &testkit.Buffer{},
		}
		c.members = append(c.members, m)
		initial = append(initial, m.name+"="+m.peerURL)
	}
	t.Cleanup(func() {
		for i := range c.members {
			c.Kill(i)
		}
		if t.Failed() {
			for _, m := range c.members {
				t.Logf("etcd member %s log:\n%s", m.name, m.log)
			}
		}
	})
	for _, m := range c.members {
		c.start(m, strings.Join(initial, ","))
	}
	c.WaitQuorum()
	return c
}

// freePorts returns n loopback TCP ports free at the time of the call.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("etcdtest: free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// start runs member m; initial is the --initial-cluster list (ignored by etcd once the
// data directory exists, so a restart rejoins with it too).
func (c *Cluster) start(m *member, initial string) {
	c.t.Helper()
	cmd := exec.Command(c.bin,
		"--name", m.name,
		"--data-dir", m.dataDir,
		"--listen-client-urls", m.clientURL,
		"--advertise-client-urls", m.clientURL,
		"--listen-peer-urls", m.peerURL,
		"--initial-advertise-peer-urls", m.peerURL,
		"--initial-cluster", initial,
		"--initial-cluster-state", "new",
		"--initial-cluster-token", "vmgate-test",
	)
	cmd.Stdout, cmd.Stderr = m.log, m.log
	// The members die with the test binary even if it crashes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("etcdtest: start %s: %v", m.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	m.mu.Lock()
	m.cmd, m.done = cmd, done
	m.mu.Unlock()
}

// initialCluster is the --initial-cluster flag of every member.
func (c *Cluster) initialCluster() string {
	var s []string
	for _, m := range c.members {
		s = append(s, m.name+"="+m.peerURL)
	}
	return strings.Join(s, ",")
}

// Endpoints returns the members' client URLs.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.members))
	for i, m := range c.members {
		eps[i] = m.clientURL
	}
	return eps
}

// Kill kills member i (SIGKILL: a crash) and waits until it has exited. Killing a dead
// member does nothing.
func (c *Cluster) Kill(i int) {
	m := c.members[i]
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(os.Kill)
	<-done
}

// Restart starts member i again on its data, after Kill.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	m := c.members[i]
	m.mu.Lock()
	running := m.cmd != nil
	m.mu.Unlock()
	if running {
		c.t.Fatalf("etcdtest: restart of %s, which runs", m.name)
	}
	c.start(m, c.initialCluster())
}

// Heal restarts every member Kill stopped and waits until the cluster has a quorum
// again.
func (c *Cluster) Heal() {
	c.t.Helper()
	for i, m := range c.members {
		m.mu.Lock()
		dead := m.cmd == nil
		m.mu.Unlock()
		if dead {
			c.Restart(i)
		}
	}
	c.WaitQuorum()
}

// WaitQuorum waits until the cluster answers a quorum (linearizable) read.
func (c *Cluster) WaitQuorum() {
	c.t.Helper()
	cli := c.Client()
	testkit.WaitFor(c.t, 90*time.Second, "an etcd cluster with a leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := cli.Get(ctx, "etcdtest/health")
		return err == nil
	})
}

// Client returns a client of every member, closed at cleanup.
func (c *Cluster) Client() *clientv3.Client {
	c.t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
	})
	if err != nil {
		c.t.Fatalf("etcdtest: client: %v", err)
	}
	c.t.Cleanup(func() { cli.Close() })
	return cli
}
