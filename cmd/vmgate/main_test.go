package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/vmgate/vmgate/e2e/testkit"
)

const testVersion = "v9.8.7-test"

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// buildBinary builds vmgate once per test run into a temp dir, with the version stamped
// as the Makefile does.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vmgate-bin-") //nolint:usetesting // one binary for every test, not one per test
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "vmgate")
		cmd := exec.Command("go", "build", "-ldflags", "-X main.version="+testVersion, "-o", builtBin, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// TestSystemdUnit checks deploy/vmgate.service: hardening present, and systemd itself
// accepts it (with ExecStart pointing at the freshly built binary).
func TestSystemdUnit(t *testing.T) {
	data, err := os.ReadFile("../../deploy/vmgate.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(data)
	for _, d := range []string{
		"Type=simple", "ExecStart=/usr/local/bin/vmgate --config /etc/vmgate/vmgate.yaml",
		"ExecReload=/bin/kill -HUP $MAINPID", "User=vmgate", "StateDirectory=vmgate",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=read-only", "PrivateTmp=yes",
		"AmbientCapabilities=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
	} {
		if !strings.Contains(unit, "\n"+d+"\n") {
			t.Errorf("unit lacks the line %q", d)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("SKIPPING systemd-analyze verify: systemd-analyze not installed")
	}
	bin := buildBinary(t)
	p := filepath.Join(t.TempDir(), "vmgate.service")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(unit, "/usr/local/bin/vmgate", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", p).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func runBinary(t *testing.T, bin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// runInProcess is run as main calls it, in this process.
func runInProcess(args ...string) result {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func configYAML(listen, stateDir, sysName string) string {
	return fmt.Sprintf(`
snmp:
  listen: [%q]
  state_dir: %s
  sys_name: %s
  communities: [{community: bin-test-community, access: read-only, context: ""}]
hosts: []
`, listen, stateDir, sysName)
}

// TestRun drives run, main's body, in this process: flags, --check with every kind of
// problem, and start-up failures. TestBinaryServe runs the built binary.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.yaml", strings.Replace(configYAML("udp:127.0.0.1:16999", filepath.Join(dir, "state"), "ok"),
		"hosts: []", `hosts: [{name: kvm-1, uri: "qemu+tls://kvm-1.example.net/system"}]`, 1))
	bad := writeFile(t, dir, "bad.yaml", `
snmp:
  listen: ["sctp:0.0.0.0:161"]
  state_dir: /tmp/x
  users:
    - {name: ops, auth_protocol: SHA, auth_passphrase: tiny-pw, access: read-only, contexts: [kvm-9]}
hosts:
  - {name: kvm-1, uri: "qemu+foo://h/system"}
  - {name: kvm-1, uri: "qemu:///system"}
`)
	unsafe := writeFile(t, dir, "unsafe.yaml", `
snmp:
  listen: ["udp:127.0.0.1:161", "udp:0.0.0.0:161"]
  state_dir: /tmp/x
  communities: [{community: bin-test-community-rw, access: read-write}]
  users: [{name: anon-writer, access: read-write, contexts: ["*"]}]
`)
	unknownKey := writeFile(t, dir, "unknown.yaml", "snmp:\n  listen: []\n  comunities: []\n")
	empty := writeFile(t, dir, "empty.yaml", "")
	badWarn := writeFile(t, dir, "badwarn.yaml", `
snmp:
  listen: ["udp:127.0.0.1:16999"]
  state_dir: /tmp/x
  communities: [{community: bin-test-community-rw, access: read-write}]
hosts:
  - {name: kvm-1, uri: "qemu+foo://h/system"}
`)

	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string   // exact, when set
		stderrHas  []string // substrings
		stderrNone bool
	}{
		{"version", []string{"--version"}, 0, "", nil, true},
		{"check good", []string{"--config", good, "--check"}, 0, "config OK\n", nil, true},
		{"check example", []string{"--config", "../../config.example.yaml", "--check"}, 0, "config OK\n", nil, false},
		{"check bad", []string{"--check", "--config", bad}, 1, "", []string{
			bad + `: snmp.listen[0]: unsupported transport "sctp"`,
			bad + `: snmp.users[0] "ops": auth_passphrase: shorter than 8 characters`,
			bad + `: snmp.users[0] "ops": contexts[0]: "kvm-9" is not a configured host`,
			bad + `: hosts[0] "kvm-1": uri: unsupported transport "foo"`,
			bad + `: hosts[1] "kvm-1": name: duplicate of hosts[0]`,
		}, false},
		{"check unsafe writers", []string{"--check", "--config", unsafe}, 1, "", []string{
			unsafe + `: snmp.communities[0]: access: read-write on non-loopback snmp.listen[1] "udp:0.0.0.0:161" needs insecure_remote_write: true`,
			unsafe + `: snmp.users[0] "anon-writer": access: read-write needs authentication (auth_protocol)`,
		}, false},
		{"check unknown key", []string{"--check", "--config", unknownKey}, 1, "",
			[]string{unknownKey + ": line 3: field comunities not found"}, false},
		{"check empty", []string{"--check", "--config", empty}, 1, "", []string{empty + ": empty"}, false},
		{"check missing", []string{"--check", "--config", filepath.Join(dir, "nope.yaml")}, 1, "",
			[]string{"nope.yaml: open", "no such file"}, false},
		{"no config", []string{"--check"}, 2, "", []string{"--config FILE is required"}, false},
		{"bad log format", []string{"--config", good, "--log.format", "xml"}, 2, "", []string{`--log.format "xml"`}, false},
		{"bad log level", []string{"--config", good, "--log.level", "loud"}, 2, "", []string{`--log.level "loud"`}, false},
		{"unknown flag", []string{"--nope"}, 2, "", []string{"flag provided but not defined: -nope"}, false},
		{"stray argument", []string{"--config", good, "extra"}, 2, "", []string{`unexpected arguments ["extra"]`}, false},
		{"start with invalid config", []string{"--config", bad}, 1, "", []string{"config problem", "cannot start: invalid configuration"}, false},
		{"start with invalid config warns too", []string{"--config", badWarn}, 1, "", []string{"config: snmp.communities[0]: read-write community", "config problem"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runInProcess(tt.args...)
			if r.code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			if tt.stdout != "" && r.stdout != tt.stdout {
				t.Errorf("stdout %q, want %q", r.stdout, tt.stdout)
			}
			if tt.stderrNone && r.stderr != "" {
				t.Errorf("stderr %q, want none", r.stderr)
			}
			for _, w := range tt.stderrHas {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "tiny-pw") || strings.Contains(r.stderr, "bin-test-community") {
				t.Errorf("stderr reveals a secret:\n%s", r.stderr)
			}
		})
	}

	t.Run("check prints one problem per line", func(t *testing.T) {
		r := runInProcess("--check", "--config", bad)
		for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
			if !strings.HasPrefix(line, bad+": ") {
				t.Errorf("line %q does not start with the file name", line)
			}
		}
	})
	t.Run("version text", func(t *testing.T) {
		r := runBinary(t, buildBinary(t), "--version") // the version comes from -ldflags
		if !strings.HasPrefix(r.stdout, "vmgate "+testVersion+" go") {
			t.Errorf("--version printed %q", r.stdout)
		}
	})
	t.Run("print-mib", func(t *testing.T) {
		r := runInProcess("--print-mib")
		if r.code != 0 || !strings.Contains(r.stdout, "VIRTUAL-MACHINES-MIB DEFINITIONS ::= BEGIN") {
			t.Errorf("--print-mib: exit %d, output starts %.80q", r.code, r.stdout)
		}
	})
	t.Run("check warns even when the file has errors", func(t *testing.T) {
		p := badWarn
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
		r := runInProcess("--check", "--config", p)
		for _, w := range []string{
			"warning: config file " + p + " has mode 0644",
			"warning: snmp.communities[0]: read-write community",
			p + `: hosts[0] "kvm-1": uri: unsupported transport "foo"`,
		} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
			}
		}
		if r.code != 1 || strings.Contains(r.stderr, "bin-test-community") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("check warns about a readable file", func(t *testing.T) {
		p := writeFile(t, t.TempDir(), "open.yaml", configYAML("udp:127.0.0.1:16999", "/tmp/s", "x"))
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
		r := runInProcess("--check", "--config", p)
		if r.code != 0 || !strings.Contains(r.stderr, "warning: config file "+p+" has mode 0644") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

func sysName(port int) (string, error) {
	c := &gosnmp.GoSNMP{Target: "127.0.0.1", Port: uint16(port), Community: "bin-test-community",
		Version: gosnmp.Version2c, Timeout: 250 * time.Millisecond, Retries: 0}
	if err := c.Connect(); err != nil {
		return "", err
	}
	defer c.Conn.Close()
	pkt, err := c.Get([]string{".1.3.6.1.2.1.1.5.0"})
	if err != nil {
		return "", err
	}
	if len(pkt.Variables) != 1 {
		return "", fmt.Errorf("%d varbinds", len(pkt.Variables))
	}
	b, _ := pkt.Variables[0].Value.([]byte)
	return string(b), nil
}

// TestBinaryServe runs the daemon: it serves, survives a broken reload, applies a good
// one, stops cleanly on SIGTERM, and fails clearly when its port is taken.
func TestBinaryServe(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	port := testkit.FreeUDPPort(t)
	listen := fmt.Sprintf("udp:127.0.0.1:%d", port)
	state := filepath.Join(dir, "state")
	cfgPath := writeFile(t, dir, "vmgate.yaml", configYAML(listen, state, "before"))

	var logs testkit.Buffer
	cmd := exec.Command(bin, "--config", cfgPath, "--log.format", "json")
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("vmgate log:\n%s", logs.String())
		}
	})
	testkit.WaitFor(t, 90*time.Second, "vmgate to answer", func() bool { s, err := sysName(port); return err == nil && s == "before" })

	t.Run("port in use", func(t *testing.T) {
		other := writeFile(t, t.TempDir(), "other.yaml", configYAML(listen, t.TempDir(), "x"))
		r := runBinary(t, bin, "--config", other)
		if r.code != 1 || !strings.Contains(r.stderr, "address already in use") {
			t.Errorf("exit %d, stderr %s", r.code, r.stderr)
		}
	})
	t.Run("unwritable state_dir", func(t *testing.T) {
		d := t.TempDir()
		f := writeFile(t, d, "file", "")
		p := writeFile(t, d, "c.yaml", configYAML(fmt.Sprintf("udp:127.0.0.1:%d", testkit.FreeUDPPort(t)), filepath.Join(f, "state"), "x"))
		r := runBinary(t, bin, "--config", p)
		if r.code != 1 || !strings.Contains(r.stderr, "state_dir") {
			t.Errorf("exit %d, stderr %s", r.code, r.stderr)
		}
	})

	t.Run("SIGHUP with a broken file keeps serving the old config", func(t *testing.T) {
		writeFile(t, dir, "vmgate.yaml", configYAML(listen, state, "broken")+"nonsense: true\n")
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, 90*time.Second, "the rejection in the log", func() bool {
			return strings.Contains(logs.String(), "reload rejected: keeping the running configuration")
		})
		if s, err := sysName(port); err != nil || s != "before" {
			t.Errorf("after a rejected reload sysName = %q, %v; want before", s, err)
		}
	})
	t.Run("SIGHUP with a good file applies it", func(t *testing.T) {
		writeFile(t, dir, "vmgate.yaml", configYAML(listen, state, "after"))
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, 90*time.Second, "the new sysName", func() bool { s, err := sysName(port); return err == nil && s == "after" })
	})
	t.Run("SIGTERM stops cleanly", func(t *testing.T) {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("exit after SIGTERM: %v, want status 0", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("vmgate did not stop after SIGTERM")
		}
	})
	t.Run("logs are JSON lines without secrets", func(t *testing.T) {
		out := logs.String()
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Errorf("not JSON: %q", line)
			}
		}
		if strings.Contains(out, "bin-test-community") {
			t.Error("the community reached the log")
		}
		for _, w := range []string{`"msg":"vmgate starting"`, `"version":"` + testVersion + `"`, `"msg":"vmgate stopped"`} {
			if !strings.Contains(out, w) {
				t.Errorf("log lacks %s", w)
			}
		}
	})
}
