package gateway

import (
	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/view/viewtest"

	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/hosts"
)

const oidSysName = ".1.3.6.1.2.1.1.5.0"

func gatewayYAML(t *testing.T, stateDir, sysName, community, hostsYAML string) string {
	t.Helper()
	return fmt.Sprintf(`
snmp:
  listen: ["udp:127.0.0.1:0"]
  state_dir: %s
  sys_name: %s
  communities: [{community: %s, access: read-only, context: ""}]
  users:
    - {name: ops, auth_protocol: SHA-256, auth_passphrase: ops-auth-pass, priv_protocol: AES,
       priv_passphrase: ops-priv-pass, access: read-only, contexts: ["*"]}
hosts: %s
`, stateDir, sysName, community, hostsYAML)
}

func mustParse(t *testing.T, y string) *Config {
	t.Helper()
	cfg, err := ParseConfig([]byte(y))
	if err != nil {
		t.Fatalf("config:\n%v", err)
	}
	return cfg
}

// startGateway runs a Gateway until the test ends and returns once it serves.
func startGateway(t *testing.T, cfg *Config, opts Options) (*Gateway, *testkit.Buffer) {
	t.Helper()
	logs := &testkit.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g, err := New(cfg, logger, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // runs after Go's: the log is complete once Run returned
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs)
		}
	})
	running := testkit.Go(t, "Run", g.Run)
	select {
	case <-g.Engine().Ready():
	case <-running.Done():
		t.Fatalf("Run stopped before serving: %v", running.Err())
	case <-time.After(20 * time.Second):
		t.Fatal("engine not ready")
	}
	return g, logs
}

// snmpGet asks addr for oid; v3 when community is "", in context ctxName.
func snmpGet(t *testing.T, addr net.Addr, community, ctxName, oid string) (string, error) {
	t.Helper()
	ua := addr.(*net.UDPAddr)
	c := &gosnmp.GoSNMP{
		Target: ua.IP.String(), Port: uint16(ua.Port), Transport: "udp",
		Version: gosnmp.Version2c, Community: community,
		Timeout: 300 * time.Millisecond, Retries: 1, MaxOids: 10,
	}
	if community == "" {
		c.Version, c.SecurityModel, c.MsgFlags, c.ContextName = gosnmp.Version3, gosnmp.UserSecurityModel, gosnmp.AuthPriv, ctxName
		c.SecurityParameters = &gosnmp.UsmSecurityParameters{
			UserName: "ops", AuthenticationProtocol: gosnmp.SHA256, AuthenticationPassphrase: "ops-auth-pass",
			PrivacyProtocol: gosnmp.AES, PrivacyPassphrase: "ops-priv-pass",
		}
	}
	if err := c.Connect(); err != nil {
		return "", err
	}
	defer c.Conn.Close()
	pkt, err := c.Get([]string{oid})
	if err != nil {
		return "", err
	}
	if len(pkt.Variables) != 1 {
		return "", fmt.Errorf("%v with %d varbinds", pkt.PDUType, len(pkt.Variables))
	}
	if pkt.PDUType == gosnmp.Report {
		return "", fmt.Errorf("report %s", pkt.Variables[0].Name)
	}
	if pkt.Error != gosnmp.NoError {
		return "", fmt.Errorf("error status %v", pkt.Error)
	}
	v := pkt.Variables[0]
	if v.Type == gosnmp.NoSuchObject || v.Type == gosnmp.NoSuchInstance {
		return "", fmt.Errorf("%s: %v", v.Name, v.Type)
	}
	if b, ok := v.Value.([]byte); ok {
		return string(b), nil
	}
	return fmt.Sprint(v.Value), nil
}

func TestRunReload(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	path := filepath.Join(dir, "vmgate.yaml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(gatewayYAML(t, state, "first", "community-one", "[]"))
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	hup := make(chan os.Signal, 1)
	g, logs := startGateway(t, cfg, Options{Version: "test", ConfigPath: path, Reload: hup})
	addr := g.Addrs()[0]
	get := func(community string) (string, error) { return snmpGet(t, addr, community, "", oidSysName) }
	if got, err := get("community-one"); err != nil || got != "first" {
		t.Fatalf("sysName = %q, %v; want first", got, err)
	}

	t.Run("Reload method applies", func(t *testing.T) {
		next := mustParse(t, gatewayYAML(t, state, "second", "community-two", "[]"))
		if err := g.Reload(context.Background(), next); err != nil {
			t.Fatal(err)
		}
		if got, err := get("community-two"); err != nil || got != "second" {
			t.Fatalf("after reload sysName = %q, %v; want second", got, err)
		}
		if _, err := get("community-one"); err == nil {
			t.Error("the removed community still answers")
		}
		if g.Config() != next {
			t.Error("Config() is not the reloaded config")
		}
	})

	t.Run("SIGHUP with a broken file keeps the old config", func(t *testing.T) {
		before := g.Config()
		write(gatewayYAML(t, state, "broken", "community-three", "[]") + "bogus_key: 1\n" +
			"templates: {dir: relative}\n")
		hup <- syscall.SIGHUP
		testkit.WaitFor(t, 90*time.Second, "reload rejection in the log", func() bool {
			return strings.Contains(logs.String(), "reload rejected: keeping the running configuration")
		})
		if !strings.Contains(logs.String(), "field bogus_key not found") {
			t.Errorf("log does not name the problem:\n%s", logs)
		}
		if g.Config() != before {
			t.Error("config changed after a rejected reload")
		}
		if got, err := get("community-two"); err != nil || got != "second" {
			t.Fatalf("after rejected reload sysName = %q, %v; want second", got, err)
		}
	})

	t.Run("SIGHUP with a valid but semantically wrong file keeps the old config", func(t *testing.T) {
		before := g.Config()
		write(gatewayYAML(t, state, "wrong", "community-four", "[]") + "templates: {dir: relative}\n")
		n := strings.Count(logs.String(), "reload rejected")
		hup <- syscall.SIGHUP
		testkit.WaitFor(t, 90*time.Second, "second reload rejection", func() bool {
			return strings.Count(logs.String(), "reload rejected") > n
		})
		if !strings.Contains(logs.String(), `templates.dir: \"relative\" must be an absolute path`) {
			t.Errorf("log does not name the problem:\n%s", logs)
		}
		if g.Config() != before {
			t.Error("config changed after a rejected reload")
		}
	})

	t.Run("SIGHUP with a good file applies", func(t *testing.T) {
		write(gatewayYAML(t, state, "third", "community-five", "[]"))
		hup <- syscall.SIGHUP
		testkit.WaitFor(t, 90*time.Second, "the new sysName", func() bool {
			got, err := get("community-five")
			return err == nil && got == "third"
		})
	})

	if !strings.Contains(logs.String(), "effective configuration") || !strings.Contains(logs.String(), "<secret>") {
		t.Errorf("no redacted effective configuration at debug level:\n%s", logs)
	}
	if strings.Contains(logs.String(), "ops-auth-pass") || strings.Contains(logs.String(), "community-") {
		t.Errorf("a secret reached the log:\n%s", logs)
	}
}

func TestStartupFailures(t *testing.T) {
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) *Config
		want  string
	}{
		{"port in use", func(t *testing.T, dir string) *Config {
			t.Helper()
			cfg := mustParse(t, gatewayYAML(t, dir, "x", "public-xx", "[]"))
			cfg.SNMP.Listen = []string{"udp:" + busy.LocalAddr().String()}
			return cfg
		}, "address already in use"},
		{"state_dir under a file", func(t *testing.T, dir string) *Config {
			t.Helper()
			f := filepath.Join(dir, "file")
			if err := os.WriteFile(f, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return mustParse(t, gatewayYAML(t, filepath.Join(f, "state"), "x", "public-xx", "[]"))
		}, "state_dir"},
		{"corrupted index registry", func(t *testing.T, dir string) *Config {
			t.Helper()
			if err := os.WriteFile(filepath.Join(dir, registry.FileName), []byte("{not json"), 0o600); err != nil {
				t.Fatal(err)
			}
			return mustParse(t, gatewayYAML(t, dir, "x", "public-xx", "[]"))
		}, registry.FileName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.setup(t, t.TempDir())
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := Run(ctx, cfg, slog.New(slog.DiscardHandler), Options{Version: "test"})
			switch {
			case err == nil:
				t.Fatal("Run succeeded, want an error")
			case errors.Is(err, context.DeadlineExceeded):
				t.Fatal("Run did not fail on its own")
			case !strings.Contains(err.Error(), tt.want):
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

// simNode is a libvirt test-driver host with two domains.
const simNode = `<node>
  <cpu><mhz>2000</mhz><model>x86_64</model><active>2</active>
    <nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads></cpu>
  <memory>4194304</memory>
  <domain type="test">
    <name>sim-web</name>
    <uuid>%s</uuid>
    <memory unit="MiB">256</memory>
    <vcpu>1</vcpu>
    <os><type arch="x86_64">hvm</type></os>
  </domain>
  <domain type="test">
    <name>sim-db</name>
    <uuid>%s</uuid>
    <memory unit="MiB">512</memory>
    <vcpu>2</vcpu>
    <os><type arch="x86_64">hvm</type></os>
  </domain>
</node>
`

// writeSimNode writes a test-driver node file with random UUIDs.
func writeSimNode(t *testing.T, dir, name string) string {
	t.Helper()
	var u [2][16]byte
	for i := range u {
		if _, err := rand.Read(u[i][:]); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, name)
	body := fmt.Sprintf(simNode, hosts.UUID(u[0]), hosts.UUID(u[1]))
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func hostYAML(name, node string) string {
	return fmt.Sprintf(`{name: %s, uri: "test+unix://%s", stats_interval: 1s}`, name, node)
}

// vmsIn counts the VMs a context of g's view shows.
func vmsIn(g *Gateway, ctxName string) int {
	n := 0
	for range g.View().Read().VMs(ctxName, 0) {
		n++
	}
	return n
}

func TestRunHostsFollowReload(t *testing.T) {
	viewtest.RequireLibvirtd(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	nodeA, nodeB := writeSimNode(t, dir, "a.xml"), writeSimNode(t, dir, "b.xml")
	conf := func(hs ...string) *Config {
		return mustParse(t, gatewayYAML(t, state, "sim", "public-sim", "["+strings.Join(hs, ", ")+"]"))
	}
	g, _ := startGateway(t, conf(hostYAML("sim-a", nodeA)), Options{Version: "test"})
	addr := g.Addrs()[0]
	inContext := func(ctxName string) error {
		_, err := snmpGet(t, addr, "", ctxName, oidSysName)
		return err
	}
	testkit.WaitFor(t, 90*time.Second, "sim-a's VMs in its context", func() bool { return vmsIn(g, "sim-a") == 2 })
	if err := inContext("sim-a"); err != nil {
		t.Fatalf("context sim-a: %v", err)
	}
	if err := inContext("sim-b"); err == nil {
		t.Fatal("context sim-b answers before it is configured")
	}

	if err := g.Reload(context.Background(), conf(hostYAML("sim-a", nodeA), hostYAML("sim-b", nodeB))); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 90*time.Second, "sim-b's VMs", func() bool { return vmsIn(g, "sim-b") == 2 })
	testkit.WaitFor(t, 90*time.Second, "both hosts merged", func() bool { return vmsIn(g, "") == 4 })
	if err := inContext("sim-b"); err != nil {
		t.Fatalf("context sim-b after reload: %v", err)
	}
	supB, ok := g.Host("sim-b")
	if !ok {
		t.Fatal("sim-b has no supervisor")
	}

	// Changing sim-b's settings restarts only sim-b; removing sim-a drops it entirely.
	reloaded := time.Now()
	if err := g.Reload(context.Background(), conf(strings.Replace(hostYAML("sim-b", nodeB), "1s", "2s", 1))); err != nil {
		t.Fatal(err)
	}
	if _, ok := g.Host("sim-a"); ok {
		t.Error("sim-a still has a supervisor after its removal")
	}
	if s, ok := g.Host("sim-b"); !ok || s == supB {
		t.Error("sim-b's changed settings did not restart its supervisor")
	}
	testkit.WaitFor(t, 90*time.Second, "sim-a's rows gone", func() bool { return vmsIn(g, "sim-a") == 0 && vmsIn(g, "") == 2 })
	if err := inContext("sim-a"); err == nil {
		t.Error("context sim-a still answers after its removal")
	}
	if err := inContext("sim-b"); err != nil {
		t.Errorf("context sim-b: %v", err)
	}
	// Let the restarted supervisor finish connecting before the test stops it:
	// go-libvirt's ConnectToURI races with a disconnect during the handshake.
	testkit.WaitFor(t, 90*time.Second, "sim-b resynced by its new supervisor", func() bool {
		for h := range g.View().Read().Hosts(0) {
			if h.Name == "sim-b" {
				return h.Health.Status == hosts.Up && h.SyncedAt.After(reloaded)
			}
		}
		return false
	})
}
