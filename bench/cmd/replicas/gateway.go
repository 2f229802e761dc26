package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vmgate/vmgate/bench/internal/fleet"
)

// The SNMPv3 user of every gateway the bench runs (read-write, every context).
const (
	user     = "bench"
	authPass = "bench-auth-pass"
	privPass = "bench-priv-pass"
)

// gw is one vmgate process the bench runs: a replica on etcd, or a file-backed gateway.
type gw struct {
	name    string
	addr    string // HOST:PORT the bench asks (its own address)
	dir     string
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{}
}

// gwConfig is what differs between the gateways of a run.
type gwConfig struct {
	name   string
	listen []string // HOST:PORT; the first is the one the bench asks
	etcd   []string // endpoints; none: the file backend
	prefix string
	netns  string // run inside this network namespace (ip netns exec)
	bin    string // another vmgate binary than the bench's
}

// startGateway writes c's configuration for the fleet and starts bin on it; it does
// not wait for the gateway to serve.
func startGateway(bin, work string, f fleet.Fleet, c gwConfig) (*gw, error) {
	dir := filepath.Join(work, c.name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var s strings.Builder
	fmt.Fprintf(&s, "snmp:\n  listen: [")
	for i, a := range c.listen {
		if i > 0 {
			s.WriteString(", ")
		}
		fmt.Fprintf(&s, "%q", "udp:"+a)
	}
	fmt.Fprintf(&s, `]
  state_dir: %s
  users:
    - {name: %s, auth_protocol: SHA-256, auth_passphrase: %q, priv_protocol: AES, priv_passphrase: %q, access: read-write, contexts: ["*"]}
`, filepath.Join(dir, "state"), user, authPass, privPass)
	if len(c.etcd) > 0 {
		ep, _ := json.Marshal(c.etcd)
		fmt.Fprintf(&s, "registry: {backend: etcd, endpoints: %s, prefix: %q, timeout: 10s}\nreplica: {name: %s}\n",
			ep, c.prefix, c.name)
	}
	s.WriteString("hosts:\n")
	for h := range f.Hosts {
		fmt.Fprintf(&s, "  - {name: %s, uri: %q, stats_interval: 10s}\n", fleet.HostName(h), f.URI(h))
	}
	cfg := filepath.Join(dir, "vmgate.yaml")
	if err := os.WriteFile(cfg, []byte(s.String()), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "vmgate.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	if c.bin != "" {
		bin = c.bin
	}
	args := []string{bin, "--config", cfg, "--log.format", "json"}
	if c.netns != "" {
		args = append([]string{"ip", "netns", "exec", c.netns}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	g := &gw{name: c.name, addr: c.listen[0], dir: dir, cmd: cmd, done: make(chan struct{})}
	g.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	go func() { _ = cmd.Wait(); close(g.done) }()
	return g, nil
}

// kill sends sig and waits until the process has exited.
func (g *gw) kill(sig syscall.Signal) {
	_ = g.cmd.Process.Signal(sig)
	select {
	case <-g.done:
	case <-time.After(15 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
}

// running reports whether the process has not exited.
func (g *gw) running() bool {
	select {
	case <-g.done:
		return false
	default:
		return true
	}
}

// startup is what the gateway's log says of its start: when it listened (its index
// registry read), when the last host's first resync ended, and each host's first
// resync's duration.
type startup struct {
	listening, last time.Duration
	durs            []time.Duration
	connFailed      int // "libvirt connection failed" lines: a busy libvirtd, retried after a backoff
}

// startup reads the gateway's log: its "snmp listening" line, each host's first
// "resynced" line after start and the duration that line gives.
func (g *gw) startup() (st startup, err error) {
	f, err := os.Open(filepath.Join(g.dir, "vmgate.log"))
	if err != nil {
		return st, err
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l struct {
			Time     time.Time `json:"time"`
			Msg      string    `json:"msg"`
			Host     string    `json:"host"`
			Duration int64     `json:"duration"` // slog JSON: nanoseconds
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		if l.Msg == "snmp listening" && st.listening == 0 {
			st.listening = l.Time.Sub(g.started)
		}
		if l.Msg == "libvirt connection failed" {
			st.connFailed++
		}
		if l.Msg != "resynced" || seen[l.Host] {
			continue
		}
		seen[l.Host] = true
		st.durs = append(st.durs, time.Duration(l.Duration))
		st.last = max(st.last, l.Time.Sub(g.started))
	}
	return st, sc.Err()
}
