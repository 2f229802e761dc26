package hosts_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/hosts/hoststest"
)

// These tests run package hosts against hypervisors in network namespaces
// (deploy/testbed/netns-host): a libvirtd on TLS and an sshd in front of its socket,
// reached over a real link that the tests can cut. They use the test driver with
// fixtures written by the test, so a restart can change what the host has.

// hang bounds how long a test waits for something that should happen; it catches
// hangs, it does not measure speed.
const hang = 60 * time.Second

// fastTimings make faults show within seconds.
func fastTimings(c hosts.Config) hosts.Config {
	c.ConnectTimeout = 3 * time.Second
	c.CallTimeout = 5 * time.Second
	c.KeepaliveInterval = 500 * time.Millisecond
	c.KeepaliveTimeout = 2 * time.Second
	c.StatsInterval = 2 * time.Second
	c.BackoffMax = time.Second
	return c
}

type fixture struct {
	path  string
	names []string // sorted
}

// writeFixture writes a test-driver node.xml with one running domain per name, with
// fresh UUIDs except where ids gives one.
func writeFixture(t *testing.T, path string, ids map[string]string, names ...string) fixture {
	t.Helper()
	var b strings.Builder
	b.WriteString("<node>\n")
	for _, n := range names {
		id, ok := ids[n]
		if !ok {
			var u hosts.UUID
			_, _ = rand.Read(u[:])
			id = u.String()
			ids[n] = id
		}
		fmt.Fprintf(&b, "<domain type='test'><name>%s</name><uuid>%s</uuid>"+
			"<memory unit='KiB'>65536</memory><vcpu>1</vcpu>"+
			"<os><type arch='x86_64'>hvm</type></os></domain>\n", n, id)
	}
	// one pool with one volume, so storage goes over the remote transports too
	b.WriteString("<pool type='dir'><name>fx-pool</name><uuid>35bb2ad9-388a-cdfe-461a-b8907f6e53fe</uuid>" +
		"<capacity unit='GiB'>10</capacity><allocation unit='GiB'>1</allocation><available unit='GiB'>9</available>" +
		"<target><path>/fx-pool</path></target><volume type='file'><name>fx-vol.img</name><key>/fx-pool/fx-vol.img</key>" +
		"<capacity unit='MiB'>100</capacity><allocation unit='MiB'>10</allocation>" +
		"<target><path>/fx-pool/fx-vol.img</path></target></volume></pool>\n")
	b.WriteString("</node>\n")
	if err := os.WriteFile(path+".tmp", []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	return fixture{path: path, names: sorted}
}

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

// run starts a Supervisor and stops it in t.Cleanup (before the host goes down, as
// cleanups run last-in first-out).
func run(t *testing.T, cfg hosts.Config, sink hosts.Sink) *hosts.Supervisor {
	t.Helper()
	s, err := hosts.New(fastTimings(cfg), sink, testLogger(t), hosts.WithBackoffStart(100*time.Millisecond))
	if err != nil {
		t.Fatalf("hosts.New(%s): %v", cfg.URI, err)
	}
	testkit.Go(t, "Run("+cfg.Name+")", s.Run)
	return s
}

func waitStatus(t *testing.T, sink *hoststest.Sink, name string, want hosts.Status) hosts.Health {
	t.Helper()
	hoststest.WaitFor(t, hang, fmt.Sprintf("%s to be %s", name, want), func() (bool, string) {
		h := sink.LastHealth(name)
		detail := fmt.Sprintf("%+v", h)
		if strings.Contains(h.LastError, "no answer within connect_timeout") {
			detail += " (over TLS: libvirtd writes one byte, 1, after the handshake to say it" +
				" accepted the client certificate; the dialer must read it before the RPC" +
				" stream starts, see TestNetnsTLSAck)"
		}
		return h.Status == want, detail
	})
	return sink.LastHealth(name)
}

// TestNetnsTLSAck pins down the protocol detail a TLS dialer must handle: after the
// handshake, libvirtd sends a single byte, 1 when it accepted the client certificate
// (virNetServerClient; go-libvirt's socket/dialers/tls.go reads it too), before any RPC.
func TestNetnsTLSAck(t *testing.T) {
	h := hoststest.StartHost(t, "vg-ack")
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(h.CAFile)
	if err != nil || !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("CA %s: %v", h.CAFile, err)
	}
	pair, err := tls.LoadX509KeyPair(h.CertFile, h.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(h.IP, strconv.Itoa(h.TLSPort))
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, ServerName: h.IP})
	if err != nil {
		t.Fatalf("tls dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(hang))
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil || b[0] != 1 {
		t.Fatalf("first byte after the handshake = %v, %v; want 1", b, err)
	}
}

// checkView: the last full sync and the current view both hold exactly the fixture's
// domains, each once: no duplicates, no ghosts of an earlier sync.
func checkView(t *testing.T, sink *hoststest.Sink, name string, fx fixture) {
	t.Helper()
	syncs := sink.Syncs(name)
	if len(syncs) == 0 {
		t.Fatalf("%s: no Synced", name)
	}
	var synced []string
	seen := map[hosts.UUID]bool{}
	for _, d := range syncs[len(syncs)-1].Domains {
		if seen[d.UUID] {
			t.Errorf("%s: domain %s (%s) twice in one sync", name, d.Name, d.UUID)
		}
		seen[d.UUID] = true
		synced = append(synced, d.Name)
	}
	slices.Sort(synced)
	if !slices.Equal(synced, fx.names) {
		t.Errorf("%s: last sync has %v, want %v", name, synced, fx.names)
	}
	if got := sink.DomainNames(name); !slices.Equal(got, fx.names) {
		t.Errorf("%s: view has %v, want %v", name, got, fx.names)
	}
	inv := syncs[len(syncs)-1]
	if len(inv.Pools) != 1 || inv.Pools[0].Name != "fx-pool" || len(inv.Volumes) != 1 || inv.Volumes[0].Name != "fx-vol.img" {
		t.Errorf("%s: last sync has pools %+v, volumes %+v; want fx-pool with fx-vol.img", name, inv.Pools, inv.Volumes)
	}
}

// transports are the two ways in to a netns host, as Configs for a fixture.
func transports(h *hoststest.Host, fx fixture) []hosts.Config {
	tlsCfg := h.TLSConfig("tls")
	tlsCfg.URI = h.TLSURIFor(fx.path)
	sshCfg := h.SSHConfig("ssh")
	sshCfg.URI = h.SSHURIFor(fx.path)
	return []hosts.Config{tlsCfg, sshCfg}
}

// upOverBoth runs a Supervisor over each transport to h serving fx, and waits until
// each is Up.
func upOverBoth(t *testing.T, h *hoststest.Host, fx fixture) (*hoststest.Sink, []hosts.Config) {
	t.Helper()
	sink := hoststest.NewSink()
	cfgs := transports(h, fx)
	for _, cfg := range cfgs {
		run(t, cfg, sink)
	}
	for _, cfg := range cfgs {
		waitStatus(t, sink, cfg.Name, hosts.Up)
	}
	return sink, cfgs
}

// waitDown waits until each host is Down, logs why (when says after what), and
// returns the LastError of each.
func waitDown(t *testing.T, sink *hoststest.Sink, cfgs []hosts.Config, when string) map[string]string {
	t.Helper()
	errs := make(map[string]string, len(cfgs))
	for _, cfg := range cfgs {
		down := waitStatus(t, sink, cfg.Name, hosts.Down)
		t.Logf("%s down %s: %s", cfg.Name, when, down.LastError)
		errs[cfg.Name] = down.LastError
	}
	return errs
}

// syncCounts is how many full syncs each host has reported so far.
func syncCounts(sink *hoststest.Sink, cfgs []hosts.Config) map[string]int {
	n := make(map[string]int, len(cfgs))
	for _, cfg := range cfgs {
		n[cfg.Name] = len(sink.Syncs(cfg.Name))
	}
	return n
}

// waitResync waits for each host to be Up again after a sync newer than before, and
// checks that the view holds exactly fx.
func waitResync(t *testing.T, sink *hoststest.Sink, cfgs []hosts.Config, before map[string]int, fx fixture) {
	t.Helper()
	for _, cfg := range cfgs {
		waitStatus(t, sink, cfg.Name, hosts.Up)
		if n := len(sink.Syncs(cfg.Name)); n <= before[cfg.Name] {
			t.Errorf("%s: up again without a resync (%d syncs)", cfg.Name, n)
		}
		checkView(t, sink, cfg.Name, fx)
	}
}

// TestNetnsConnect: each way in reaches Up and syncs the host's inventory.
func TestNetnsConnect(t *testing.T) {
	h := hoststest.StartHost(t, "vg-conn")
	fx := writeFixture(t, filepath.Join(t.TempDir(), "node.xml"), map[string]string{}, "conn-a", "conn-b", "conn-c")
	tlsCfg, sshCfg := transports(h, fx)[0], transports(h, fx)[1]
	dnsName := tlsCfg
	dnsName.TLS.ServerName = h.DNSName
	tests := []struct {
		name string
		cfg  hosts.Config
	}{
		{"tls", tlsCfg},
		{"ssh", sshCfg},
		{"tls server_name", dnsName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Name = strings.ReplaceAll(tt.name, " ", "-")
			sink := hoststest.NewSink()
			s := run(t, tt.cfg, sink)
			waitStatus(t, sink, tt.cfg.Name, hosts.Up)
			checkView(t, sink, tt.cfg.Name, fx)
			if got := s.Health().Status; got != hosts.Up {
				t.Errorf("Supervisor.Health().Status = %s, want up", got)
			}
			if got := sink.Syncs(tt.cfg.Name)[0].Hypervisor.Type; got != "TEST" {
				t.Errorf("hypervisor type = %q, want TEST", got)
			}
		})
	}
}

// TestNetnsLibvirtdRestart kills the host's libvirtd, changes what the host has while
// it is down, and restarts it: both transports must reconnect and resync to exactly
// the new set (the removed domain gone, the kept one once, the new one there).
func TestNetnsLibvirtdRestart(t *testing.T) {
	h := hoststest.StartHost(t, "vg-restart")
	ids := map[string]string{}
	path := filepath.Join(t.TempDir(), "node.xml")
	fx := writeFixture(t, path, ids, "rs-keep", "rs-gone")
	sink, cfgs := upOverBoth(t, h, fx)
	for _, cfg := range cfgs {
		checkView(t, sink, cfg.Name, fx)
	}

	h.KillLibvirtd(t)
	for name, lastErr := range waitDown(t, sink, cfgs, "after the kill") {
		if lastErr == "" {
			t.Errorf("%s: down without LastError", name)
		}
	}
	before := syncCounts(sink, cfgs)
	fx = writeFixture(t, path, ids, "rs-keep", "rs-new")
	h.Up(t)
	waitResync(t, sink, cfgs, before, fx)
}

// TestNetnsLinkCut drops every packet on the host's link: nothing is refused, the
// connection just goes silent, and only the watchdog (TLS) or the SSH keepalive can
// tell. Health must go Down, then Up again once the link is back.
func TestNetnsLinkCut(t *testing.T) {
	h := hoststest.StartHost(t, "vg-cut")
	fx := writeFixture(t, filepath.Join(t.TempDir(), "node.xml"), map[string]string{}, "cut-a", "cut-b")
	sink, cfgs := upOverBoth(t, h, fx)
	before := syncCounts(sink, cfgs)

	h.Cut(t)
	for name, lastErr := range waitDown(t, sink, cfgs, "after cut") {
		// The cause (the watchdog's or SSH's keepalive), not only the call it interrupted.
		if !strings.Contains(lastErr, "keepalive") {
			t.Errorf("%s: LastError %q does not name the keepalive", name, lastErr)
		}
	}
	h.Restore(t)
	waitResync(t, sink, cfgs, before, fx)
}

// TestNetnsLibvirtdHung stops the host's libvirtd (SIGSTOP): the link is fine and the
// kernel still accepts connections, but nothing answers. The watchdog must take the
// connection down, reconnects must time out instead of hanging, and all must recover
// when the daemon continues.
func TestNetnsLibvirtdHung(t *testing.T) {
	h := hoststest.StartHost(t, "vg-hung")
	fx := writeFixture(t, filepath.Join(t.TempDir(), "node.xml"), map[string]string{}, "hung-a", "hung-b")
	sink, cfgs := upOverBoth(t, h, fx)
	before := syncCounts(sink, cfgs)

	pre := make(map[string]int, len(cfgs))
	for _, cfg := range cfgs {
		pre[cfg.Name] = len(sink.HealthHistory(cfg.Name))
	}
	h.FreezeLibvirtd(t)
	waitDown(t, sink, cfgs, "while hung")
	// Reconnect attempts against the hung daemon must fail too, not hang: after the
	// watchdog's Down comes another (a report is sent only when Health changes: the
	// connect error instead of the watchdog's), whenever it came.
	for _, cfg := range cfgs {
		hoststest.WaitFor(t, hang, cfg.Name+" to report a failed reconnect", func() (bool, string) {
			hist := sink.HealthHistory(cfg.Name)
			downs := 0
			for _, h := range hist[pre[cfg.Name]:] {
				if h.Status == hosts.Down {
					downs++
				}
			}
			return downs >= 2, fmt.Sprintf("%+v", hist[len(hist)-1])
		})
		t.Logf("%s reconnect while hung: %s", cfg.Name, sink.LastHealth(cfg.Name).LastError)
	}
	h.ThawLibvirtd(t)
	waitResync(t, sink, cfgs, before, fx)
}

// TestNetnsRefused: wrong trust must fail with an error that says what is wrong, and
// never get as far as a sync; insecure_skip_host_key_check is the one way past an
// unknown host key.
func TestNetnsRefused(t *testing.T) {
	h := hoststest.StartHost(t, "vg-refuse")
	fx := writeFixture(t, filepath.Join(t.TempDir(), "node.xml"), map[string]string{}, "ref-a")
	hostKey := readHostKey(t, h.SSHHostKey)
	fp := ssh.FingerprintSHA256(hostKey)
	dir := t.TempDir()
	empty := filepath.Join(dir, "known_hosts_empty")
	changed := filepath.Join(dir, "known_hosts_changed")
	writeFile(t, empty, "")
	writeFile(t, changed, h.IP+" "+otherHostKey(t)+"\n")

	tlsBase, sshBase := transports(h, fx)[0], transports(h, fx)[1]
	wrongCA := tlsBase
	wrongCA.TLS.CAFile = h.OtherCAFile
	wrongName := tlsBase
	wrongName.TLS.ServerName = "not-" + h.DNSName
	unknown := sshBase
	unknown.SSH.KnownHosts = empty
	changedKey := sshBase
	changedKey.SSH.KnownHosts = changed
	skip := sshBase
	skip.SSH.KnownHosts = empty
	skip.SSH.InsecureSkipHostKeyCheck = true

	tests := []struct {
		name    string
		cfg     hosts.Config
		wantErr []string // all in LastError; nil: must connect
	}{
		{"wrong CA", wrongCA, []string{"tls", h.IP, "certificate signed by unknown authority"}},
		{"wrong server name", wrongName, []string{"tls", "not-" + h.DNSName, "certificate"}},
		{"unknown host key", unknown, []string{"ssh", h.IP, "unknown", fp, empty}},
		{"changed host key", changedKey, []string{"ssh", h.IP, "CHANGED", fp, changed}},
		{"unknown host key skipped", skip, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Name = strings.ReplaceAll(tt.name, " ", "-")
			sink := hoststest.NewSink()
			run(t, tt.cfg, sink)
			if tt.wantErr == nil {
				waitStatus(t, sink, tt.cfg.Name, hosts.Up)
				checkView(t, sink, tt.cfg.Name, fx)
				return
			}
			down := waitStatus(t, sink, tt.cfg.Name, hosts.Down)
			for _, w := range tt.wantErr {
				if !strings.Contains(down.LastError, w) {
					t.Errorf("LastError %q does not mention %q", down.LastError, w)
				}
			}
			for _, hl := range sink.HealthHistory(tt.cfg.Name) {
				if hl.Status == hosts.Up {
					t.Errorf("went up: %+v", hl)
				}
			}
			if n := len(sink.Syncs(tt.cfg.Name)); n != 0 {
				t.Errorf("%d syncs, want none", n)
			}
		})
	}
}

// TestNetnsSSHForward: OpenSSH answers "open failed" both when its configuration
// forbids forwarding to a unix socket and when the socket is missing; LastError must
// still tell the two apart.
func TestNetnsSSHForward(t *testing.T) {
	h := hoststest.StartHost(t, "vg-fwd")
	fx := writeFixture(t, filepath.Join(t.TempDir(), "node.xml"), map[string]string{}, "fwd-a")
	base := transports(h, fx)[1]
	missing := base
	missing.Name = "socket-missing"
	missing.SSH.Socket = filepath.Join(h.StateDir, "run", "no-such-sock")

	sink := hoststest.NewSink()
	run(t, missing, sink)
	down := waitStatus(t, sink, missing.Name, hosts.Down)
	for _, w := range []string{"no socket " + missing.SSH.Socket, "on the remote host"} {
		if !strings.Contains(down.LastError, w) {
			t.Errorf("socket missing: LastError %q does not mention %q", down.LastError, w)
		}
	}
	if strings.Contains(down.LastError, "refused to forward") {
		t.Errorf("socket missing: LastError %q blames sshd", down.LastError)
	}

	h.SSHForwarding(t, false)
	refused := base
	refused.Name = "forward-refused"
	run(t, refused, sink)
	down = waitStatus(t, sink, refused.Name, hosts.Down)
	for _, w := range []string{"sshd refused to forward to " + h.Socket, "AllowStreamLocalForwarding"} {
		if !strings.Contains(down.LastError, w) {
			t.Errorf("forward refused: LastError %q does not mention %q", down.LastError, w)
		}
	}
	h.SSHForwarding(t, true)
	waitStatus(t, sink, refused.Name, hosts.Up)
}

// TestNetnsSSHSkipHostKeyLogged: with the host key check off by name, every connection
// logs the fingerprint of the key it took, so it can be checked after the fact.
func TestNetnsSSHSkipHostKeyLogged(t *testing.T) {
	h := hoststest.StartHost(t, "vg-skip")
	fx := writeFixture(t, filepath.Join(t.TempDir(), "node.xml"), map[string]string{}, "skip-a")
	cfg := transports(h, fx)[1]
	cfg.SSH.KnownHosts = filepath.Join(t.TempDir(), "known_hosts_empty")
	writeFile(t, cfg.SSH.KnownHosts, "")
	cfg.SSH.InsecureSkipHostKeyCheck = true
	fp := ssh.FingerprintSHA256(readHostKey(t, h.SSHHostKey))

	var logs testkit.Buffer
	s, err := hosts.New(fastTimings(cfg), hoststest.NewSink(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Go(t, "Run", s.Run)
	accepted := func() int { return strings.Count(logs.String(), "fingerprint="+fp) }
	testkit.WaitFor(t, hang, "the accepted key's fingerprint in the log", func() bool { return accepted() >= 1 })
	h.KillLibvirtd(t) // the supervisor reconnects: a new SSH connection, logged again
	h.Up(t)
	testkit.WaitFor(t, hang, "the fingerprint logged for the reconnection", func() bool { return accepted() >= 2 })
}

func readHostKey(t *testing.T, path string) ssh.PublicKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return k
}

// otherHostKey is an ed25519 public key in authorized_keys form that no host has.
func otherHostKey(t *testing.T) string {
	t.Helper()
	seed := make([]byte, 32)
	_, _ = rand.Read(seed)
	signer, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
