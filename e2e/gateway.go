package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
)

// ReadyTimeout bounds how long Start waits for the agent to answer its first request.
const ReadyTimeout = 90 * time.Second

// stopTimeout bounds how long Stop waits after SIGTERM before it kills the process.
const stopTimeout = 15 * time.Second

// Gateway is one vmgate process under test, with its config file and state directory.
type Gateway struct {
	Bin        string // the vmgate binary
	Dir        string // private scratch directory (config, state, net-snmp client state)
	ConfigPath string
	StateDir   string
	Port       int    // UDP port on 127.0.0.1
	Addr       string // net-snmp agent spec: udp:127.0.0.1:PORT

	cfg  Config
	log  *testkit.Buffer
	mu   sync.Mutex
	proc *process
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done
}

// Start writes cfg (with a free loopback port and a private state_dir filled in), starts
// vmgate and waits until it answers a GET for sysUpTime. The process is stopped with
// SIGTERM in t.Cleanup and must exit 0; its log is printed when the test failed.
func Start(t testing.TB, bin string, cfg Config) *Gateway {
	t.Helper()
	dir := t.TempDir()
	g := &Gateway{
		Bin:        bin,
		Dir:        dir,
		ConfigPath: filepath.Join(dir, "vmgate.yaml"),
		StateDir:   filepath.Join(dir, "state"),
		Port:       testkit.FreeUDPPort(t),
		log:        &testkit.Buffer{},
	}
	g.Addr = "udp:127.0.0.1:" + strconv.Itoa(g.Port)
	for _, d := range []string{g.StateDir, filepath.Join(dir, "netsnmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		// A clean exit is part of every test: a data race found by the race-enabled
		// binary (GORACE=halt_on_error=1) or a panic ends it non-zero.
		if err := g.stop(); err != nil {
			t.Errorf("vmgate did not exit cleanly: %v", err)
		}
		if t.Failed() {
			t.Logf("vmgate log (%s):\n%s", g.ConfigPath, g.Logs())
		}
	})
	// The port was free when picked; should another process take it before vmgate binds
	// it, pick another.
	for attempt := 1; ; attempt++ {
		g.WriteConfig(t, cfg)
		err := g.start()
		if err == nil {
			return g
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			t.Fatal(err)
		}
		g.Port = testkit.FreeUDPPort(t)
		g.Addr = "udp:127.0.0.1:" + strconv.Itoa(g.Port)
	}
}

// Config returns the configuration last written.
func (g *Gateway) Config() Config { return g.cfg }

// WriteConfig renders cfg into the config file (mode 0600). It does not reload.
func (g *Gateway) WriteConfig(t testing.TB, cfg Config) {
	t.Helper()
	g.cfg = cfg
	data, err := cfg.render(g.listen(), g.StateDir)
	if err != nil {
		t.Fatalf("render config: %v", err)
	}
	g.WriteConfigBytes(t, data)
}

// WriteConfigBytes replaces the config file with raw bytes (for broken-file tests).
func (g *Gateway) WriteConfigBytes(t testing.TB, data []byte) {
	t.Helper()
	tmp := g.ConfigPath + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, g.ConfigPath); err != nil {
		t.Fatal(err)
	}
}

func (g *Gateway) listen() string { return "udp:127.0.0.1:" + strconv.Itoa(g.Port) }

// Start starts the process (again, after Stop) with the current config and state_dir,
// and waits for readiness.
func (g *Gateway) Start(t testing.TB) {
	t.Helper()
	if err := g.start(); err != nil {
		t.Fatal(err)
	}
}

// errPortTaken is start's error when another process bound the port first.
var errPortTaken = errors.New("listen address already in use")

func (g *Gateway) start() error {
	g.mu.Lock()
	if g.proc != nil {
		g.mu.Unlock()
		return errors.New("vmgate already running")
	}
	off := g.log.Len()
	fmt.Fprintf(g.log, "=== start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(g.Bin, "--config", g.ConfigPath, "--log.level", "debug")
	cmd.Stdout = g.log
	cmd.Stderr = g.log
	cmd.Env = append(os.Environ(), "GORACE=halt_on_error=1")
	if err := cmd.Start(); err != nil {
		g.mu.Unlock()
		return fmt.Errorf("start vmgate: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	g.proc = p
	g.mu.Unlock()
	err := g.waitReady()
	if err != nil && g.Exited() {
		g.mu.Lock()
		g.proc = nil
		g.mu.Unlock()
		if strings.Contains(g.LogsSince(off), "address already in use") {
			return fmt.Errorf("%w: %w", errPortTaken, err)
		}
	}
	return err
}

// WaitReady polls sysUpTime.0 until the agent answers or ReadyTimeout passes; it fails
// at once when the process exits.
func (g *Gateway) WaitReady(t testing.TB) {
	t.Helper()
	if err := g.waitReady(); err != nil {
		t.Fatal(err)
	}
}

func (g *Gateway) waitReady() error {
	cred, ok := g.cfg.probeCred()
	if !ok {
		return errors.New("config has neither a community nor a user: cannot probe readiness")
	}
	deadline := time.Now().Add(ReadyTimeout)
	var last Result
	for time.Now().Before(deadline) {
		if g.Exited() {
			return fmt.Errorf("vmgate exited before it was ready: %w\n%s", g.exitErr(), g.Logs())
		}
		last = g.run(cred, "snmpget", []string{"-t", "0.3", "-r", "0"}, sysUpTime)
		if last.Err == nil && strings.Contains(last.Stdout, sysUpTime) {
			return nil
		}
	}
	return fmt.Errorf("vmgate not ready after %v: last probe: %s\n%s", ReadyTimeout, last, g.Logs())
}

// Exited reports whether the process has ended.
func (g *Gateway) Exited() bool {
	g.mu.Lock()
	p := g.proc
	g.mu.Unlock()
	if p == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (g *Gateway) exitErr() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.proc == nil {
		return nil
	}
	return g.proc.err
}

// PID is the running process's id, 0 when stopped.
func (g *Gateway) PID() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.proc == nil {
		return 0
	}
	return g.proc.cmd.Process.Pid
}

// Signal sends sig to the running process.
func (g *Gateway) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	g.mu.Lock()
	p := g.proc
	g.mu.Unlock()
	if p == nil {
		t.Fatal("vmgate not running")
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// Stop sends SIGTERM and waits for the process to exit; it fails the test unless the
// exit was clean (status 0).
func (g *Gateway) Stop(t testing.TB) {
	t.Helper()
	if err := g.stop(); err != nil {
		t.Fatalf("vmgate stop: %v\n%s", err, g.Logs())
	}
}

func (g *Gateway) stop() error {
	g.mu.Lock()
	p := g.proc
	g.proc = nil
	g.mu.Unlock()
	if p == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("did not exit within %v of SIGTERM: killed", stopTimeout)
	}
	fmt.Fprintf(g.log, "=== exited: %v\n", p.err)
	return p.err
}

// Kill ends the process with SIGKILL (a crash: nothing runs on the way out) and waits.
func (g *Gateway) Kill(t testing.TB) {
	t.Helper()
	g.mu.Lock()
	p := g.proc
	g.proc = nil
	g.mu.Unlock()
	if p == nil {
		t.Fatal("vmgate not running")
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	fmt.Fprintf(g.log, "=== killed: %v\n", p.err)
}

// Logs returns everything the process wrote to stdout and stderr so far.
func (g *Gateway) Logs() string { return g.log.String() }

// LogLen and LogsSince let a test look only at what was logged after a point.
func (g *Gateway) LogLen() int { return g.log.Len() }

// LogsSince returns the log written after LogLen returned off.
func (g *Gateway) LogsSince(off int) string {
	s := g.log.String()
	if off > len(s) {
		return ""
	}
	return s[off:]
}

// WaitLog polls the log until it contains substr after offset off, or fails the test.
func (g *Gateway) WaitLog(t testing.TB, off int, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(g.LogsSince(off), substr) {
			return
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-g.doneChan():
			t.Fatalf("vmgate exited while waiting for log %q:\n%s", substr, g.Logs())
		}
	}
	t.Fatalf("log %q not seen within %v:\n%s", substr, timeout, g.LogsSince(off))
}

func (g *Gateway) doneChan() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.proc == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return g.proc.done
}

// Build compiles ./cmd/vmgate of the module rooted at root into dir and returns the path.
func Build(root, dir string) (string, error) {
	bin := filepath.Join(dir, "vmgate")
	args := []string{"build", "-o", bin, "-ldflags", "-X main.version=e2e-test"}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/vmgate")...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/vmgate: %w\n%s", err, out)
	}
	return bin, nil
}
