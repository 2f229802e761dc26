// Package hoststest has test helpers for package hosts and its users: hypervisor hosts
// in network namespaces (deploy/testbed/netns-host), a recording Sink and a polling
// wait. Nothing here belongs in a production binary.
package hoststest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmgate/vmgate/hosts"
)

// Host is a hypervisor in its own network namespace: a libvirtd listening on TLS and an
// sshd, both reachable from the test at IP. Fields are the facts netns-host prints.
type Host struct {
	Name    string // namespace name, unique per StartHost call
	IP      string // where libvirtd (TLS) and sshd listen
	DNSName string // also in the server certificate (not resolvable)
	TLSPort int

	CAFile      string // the CA that signed the server and client certificates
	CertFile    string // client certificate
	KeyFile     string // client key
	PKIPath     string // libvirt pkipath= directory with the three files above
	OtherCAFile string // a CA that signed nothing here: the "wrong CA"

	SSHUser       string
	SSHPort       int
	SSHKeyFile    string // client private key, authorized for SSHUser
	SSHKnownHosts string // known_hosts with the host key for IP
	SSHHostKey    string // the host's public key file

	Socket   string // libvirtd's unix socket, the target of direct-streamlocal
	NodeXML  string // test driver fixture: two domains named <Name>-vm1, <Name>-vm2
	StateDir string
	TLSURI   string // test+tls://IP/NodeXML
	SSHURI   string // test+ssh://root@IP/NodeXML?socket=Socket

	script string
}

// StartHost starts a host named prefix-<random> (netns-host up) and downs it in
// t.Cleanup, also when the test fails. It skips the test, loudly, where namespaces
// cannot work: not root, no ip netns, no libvirtd or sshd.
func StartHost(t testing.TB, prefix string) *Host {
	t.Helper()
	script := requireTestbed(t)
	// reap hosts left behind by test binaries that died before their cleanups
	if out, err := run(script, "reap"); err != nil {
		t.Logf("netns-host reap: %v\n%s", err, out)
	}
	name := uniqueName(prefix)
	t.Cleanup(func() {
		if out, err := run(script, "down", name); err != nil {
			t.Errorf("netns-host down %s: %v\n%s", name, err, out)
		}
	})
	out, err := run(script, "up", name)
	if err != nil {
		t.Fatalf("netns-host up %s: %v\n%s", name, err, out)
	}
	h, err := parseEnv(out)
	if err != nil {
		t.Fatalf("netns-host up %s: %v\n%s", name, err, out)
	}
	h.script = script
	return h
}

// TLSURIFor is the test+tls URI of another test-driver fixture; any absolute path
// the test can write is visible to the host's libvirtd.
func (h *Host) TLSURIFor(nodeXML string) string {
	return "test+tls://" + h.IP + nodeXML
}

// SSHURIFor is the test+ssh URI of another test-driver fixture.
func (h *Host) SSHURIFor(nodeXML string) string {
	return "test+ssh://" + h.SSHUser + "@" + h.IP + nodeXML + "?socket=" + h.Socket
}

// TLSConfig is a hosts.Config for the TLS endpoint with the host's certificates.
func (h *Host) TLSConfig(name string) hosts.Config {
	return hosts.Config{
		Name: name,
		URI:  h.TLSURI,
		TLS:  hosts.TLSConfig{CAFile: h.CAFile, CertFile: h.CertFile, KeyFile: h.KeyFile},
	}
}

// SSHConfig is a hosts.Config for the SSH endpoint with the host's keys.
func (h *Host) SSHConfig(name string) hosts.Config {
	return hosts.Config{
		Name: name,
		URI:  h.SSHURI,
		SSH:  hosts.SSHConfig{KeyFile: h.SSHKeyFile, KnownHosts: h.SSHKnownHosts},
	}
}

// KillLibvirtd kills the host's libvirtd with SIGKILL, like a crash.
func (h *Host) KillLibvirtd(t testing.TB) {
	t.Helper()
	h.do(t, "kill", h.Name, "libvirtd")
}

// Up (re)starts whatever of the host is not running, e.g. libvirtd after KillLibvirtd,
// and waits until it answers.
func (h *Host) Up(t testing.TB) {
	t.Helper()
	h.do(t, "up", h.Name)
}

// SSHForwarding restarts the host's sshd with AllowStreamLocalForwarding yes (allow) or
// no: then sshd refuses to forward to the libvirt socket.
func (h *Host) SSHForwarding(t testing.TB, allow bool) {
	t.Helper()
	arg := "no"
	if allow {
		arg = "yes"
	}
	h.do(t, "ssh-forwarding", h.Name, arg)
}

// FreezeLibvirtd stops the host's libvirtd (SIGSTOP): it keeps its sockets but answers
// nothing, like a hung daemon. ThawLibvirtd continues it; t.Cleanup does too.
func (h *Host) FreezeLibvirtd(t testing.TB) {
	t.Helper()
	h.do(t, "freeze", h.Name)
	t.Cleanup(func() {
		if out, err := run(h.script, "thaw", h.Name); err != nil {
			t.Logf("netns-host thaw %s: %v\n%s", h.Name, err, out)
		}
	})
}

// ThawLibvirtd continues a frozen libvirtd (SIGCONT).
func (h *Host) ThawLibvirtd(t testing.TB) {
	t.Helper()
	h.do(t, "thaw", h.Name)
}

// Cut drops all traffic on the host's link, silently, until Restore.
func (h *Host) Cut(t testing.TB) {
	t.Helper()
	h.do(t, "cut", h.Name)
}

// Restore undoes Cut.
func (h *Host) Restore(t testing.TB) {
	t.Helper()
	h.do(t, "restore", h.Name)
}

func (h *Host) do(t testing.TB, args ...string) {
	t.Helper()
	if out, err := run(h.script, args...); err != nil {
		t.Fatalf("netns-host %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// requireTestbed finds netns-host and skips when the machine cannot run it.
func requireTestbed(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIPPING: network-namespace hosts are integration tests (-short)")
	}
	if os.Geteuid() != 0 {
		t.Skip("SKIPPING: network-namespace hosts need root (run the tests as root)")
	}
	for _, bin := range []string{"ip", "libvirtd", "virsh", "openssl", "ssh-keygen", "ssh", "iptables", "unshare"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("SKIPPING: network-namespace hosts need %s (deploy/testbed/deps): %v", bin, err)
		}
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Skipf("SKIPPING: network-namespace hosts need /usr/sbin/sshd (deploy/testbed/deps): %v", err)
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		t.Skipf("SKIPPING: ip netns does not work here: %v: %s", err, out)
	}
	script, err := findScript("netns-host")
	if err != nil {
		t.Fatal(err)
	}
	return script
}

// ErrShort is EnsureLibvirtd's answer under go test -short: tests that need libvirtd
// are integration tests and skip.
var ErrShort = errors.New("integration test skipped with -short")

// EnsureLibvirtd makes sure the machine's libvirtd answers on sock: when it does not
// and the tests run as root, it starts the test bed's daemon (deploy/testbed/libvirtd-up,
// idempotent) and checks again, so that the tests after a daemon crash run against a
// fresh one instead of being skipped.
func EnsureLibvirtd(sock string) error {
	if testing.Short() {
		return ErrShort
	}
	dial := func() error {
		c, err := net.DialTimeout("unix", sock, 2*time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
	err := dial()
	if err == nil || os.Geteuid() != 0 {
		return err
	}
	script, ferr := findScript("libvirtd-up")
	if ferr != nil {
		return errors.Join(err, ferr)
	}
	if out, rerr := run(script); rerr != nil {
		return fmt.Errorf("%w; %s: %w: %s", err, script, rerr, out)
	}
	return dial()
}

// findScript walks up from the working directory (a package directory under go test)
// to the module root, for deploy/testbed/NAME.
func findScript(name string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find %s: %w", name, err)
	}
	for {
		p := filepath.Join(dir, "deploy", "testbed", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find %s: no deploy/testbed/%s above the working directory", name, name)
		}
		dir = parent
	}
}

func run(script string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, args...)
	cmd.Env = append(os.Environ(), "VMGATE_TESTBED_OWNER="+strconv.Itoa(os.Getpid()))
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.Bytes(), err
}

func uniqueName(prefix string) string {
	if len(prefix) > 24 {
		prefix = prefix[:24]
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// parseEnv reads the KEY=value lines netns-host prints.
func parseEnv(out []byte) (*Host, error) {
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && k != "" && strings.ToUpper(k) == k {
			kv[k] = v
		}
	}
	var errs []error
	get := func(k string) string {
		v, ok := kv[k]
		if !ok || v == "" {
			errs = append(errs, fmt.Errorf("missing %s", k))
		}
		return v
	}
	num := func(k string) int {
		n, err := strconv.Atoi(get(k))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		}
		return n
	}
	h := &Host{
		Name: get("NAME"), IP: get("IP"), DNSName: get("DNS_NAME"), TLSPort: num("TLS_PORT"),
		CAFile: get("CA_FILE"), CertFile: get("CERT_FILE"), KeyFile: get("KEY_FILE"),
		PKIPath: get("PKI_PATH"), OtherCAFile: get("OTHER_CA_FILE"),
		SSHUser: get("SSH_USER"), SSHPort: num("SSH_PORT"), SSHKeyFile: get("SSH_KEY_FILE"),
		SSHKnownHosts: get("SSH_KNOWN_HOSTS"), SSHHostKey: get("SSH_HOST_KEY"),
		Socket: get("SOCKET"), NodeXML: get("NODE_XML"), StateDir: get("STATE_DIR"),
		TLSURI: get("TLS_URI"), SSHURI: get("SSH_URI"),
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("netns-host output: %w", err)
	}
	return h, nil
}
