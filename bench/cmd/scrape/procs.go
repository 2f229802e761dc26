package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vmgate/vmgate/bench/internal/proc"
)

// procs are the processes the bench started: stopped (SIGTERM, then SIGKILL) at the end
// or when a phase is over.
type procs struct{ list []*daemon }

type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// start runs bin with its output in dir/NAME.log; it does not wait for it to serve.
func (p *procs) start(dir, name, bin string, args ...string) (*daemon, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.done) }()
	p.list = append(p.list, d)
	return d, nil
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// stop sends SIGTERM and waits, SIGKILL after 15 s.
func (d *daemon) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

func (p *procs) stopAll() {
	for _, d := range p.list {
		d.stop()
	}
	p.list = nil
}

// cpu is the summed utime+stime of pids (a process gone counts 0).
func cpu(pids ...int) time.Duration {
	var sum time.Duration
	for _, pid := range pids {
		if pid > 0 {
			d, _ := proc.CPU(pid)
			sum += d
		}
	}
	return sum
}

// freePort is a loopback port free a moment ago (network "tcp" or "udp").
func freePort(network string) (string, error) {
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer c.Close()
		return c.LocalAddr().String(), nil
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer l.Close()
		return l.Addr().String(), nil
	}
}

// waitHTTP polls url until it answers 200, d exits, or limit passes.
func waitHTTP(ctx context.Context, d *daemon, url string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	c := &http.Client{Timeout: 5 * time.Second}
	for {
		if resp, err := c.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-d.done:
			return fmt.Errorf("%s exited (see its log)", d.name)
		case <-ctx.Done():
			return fmt.Errorf("%s: %s not 200 after %s", d.name, url, limit)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
