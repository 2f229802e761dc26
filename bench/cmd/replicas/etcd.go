package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdCluster is a three-member etcd (Debian's etcd-server) run by the bench on free
// ports of one address, its data under the work directory.
type etcdCluster struct {
	members   []*exec.Cmd
	endpoints []string
}

// startEtcd starts three members listening on ip and returns once the cluster
// answers a quorum read. Their output goes to dir/etcd-N.log.
func startEtcd(ctx context.Context, dir, ip string) (*etcdCluster, error) {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		return nil, fmt.Errorf("no etcd binary (deploy/testbed/deps installs etcd-server): %w", err)
	}
	ports, err := freeTCPPorts(ip, 6)
	if err != nil {
		return nil, err
	}
	c := &etcdCluster{}
	var initial []string
	for i := range 3 {
		initial = append(initial, fmt.Sprintf("m%d=http://%s:%d", i, ip, ports[2*i+1]))
	}
	for i := range 3 {
		client := fmt.Sprintf("http://%s:%d", ip, ports[2*i])
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("etcd-%d.log", i)))
		if err != nil {
			c.stop()
			return nil, err
		}
		cmd := exec.Command(bin, "--name", fmt.Sprintf("m%d", i), "--data-dir", filepath.Join(dir, fmt.Sprintf("etcd-%d", i)),
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", fmt.Sprintf("http://%s:%d", ip, ports[2*i+1]),
			"--initial-advertise-peer-urls", fmt.Sprintf("http://%s:%d", ip, ports[2*i+1]),
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "vmgate-bench")
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		err = cmd.Start()
		logf.Close()
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("etcd member %d: %w", i, err)
		}
		c.members = append(c.members, cmd)
		c.endpoints = append(c.endpoints, client)
	}
	cli, err := c.client()
	if err != nil {
		c.stop()
		return nil, err
	}
	defer cli.Close()
	err = poll(ctx, 60*time.Second, 20*time.Millisecond, func() bool {
		octx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := cli.Get(octx, "bench/health")
		return err == nil
	})
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("etcd has no quorum: %w (logs in %s)", err, dir)
	}
	return c, nil
}

func (c *etcdCluster) client() (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: c.endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
}

// stop kills every member and waits for them.
func (c *etcdCluster) stop() {
	for _, m := range c.members {
		_ = m.Process.Kill()
		_ = m.Wait()
	}
	c.members = nil
}

// freeTCPPorts returns n TCP ports of ip free at the time of the call.
func freeTCPPorts(ip string, n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return nil, fmt.Errorf("free port on %s: %w", ip, err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// freeUDPPort returns a UDP port of ip free at the time of the call.
func freeUDPPort(ip string) (int, error) {
	c, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("free port on %s: %w", ip, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// errTimeout is poll's error when the condition stayed false.
var errTimeout = errors.New("timed out")

// poll calls cond every interval until it is true, ctx is done or limit has passed.
func poll(ctx context.Context, limit, every time.Duration, cond func() bool) error {
	end := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(end) {
			return errTimeout
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
	return nil
}
