package hosts

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
	"golang.org/x/crypto/ssh"
)

// --- TLS ---

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vmgate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns PEM certificate and key for a server (with IP SAN) or a client.
func (ca *testCA) issue(t *testing.T, cn string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"kvm.test"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// forward copies both ways between a and a new connection to the unix socket.
func forward(a net.Conn, socket string) {
	b, err := net.Dial("unix", socket)
	if err != nil {
		a.Close()
		return
	}
	go func() { _, _ = io.Copy(b, a); b.Close() }()
	_, _ = io.Copy(a, b)
	a.Close()
}

// tlsFront is a TLS listener on loopback that demands a client certificate of ca and
// forwards to a libvirt unix socket, like libvirtd's TLS port.
func tlsFront(t *testing.T, ca *testCA, socket string) string {
	t.Helper()
	certPEM, keyPEM := ca.issue(t, "kvm.test", true)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				// libvirtd answers a completed handshake with one byte: 1 = certificate accepted.
				if err := c.(*tls.Conn).Handshake(); err != nil {
					c.Close()
					return
				}
				if _, err := c.Write([]byte{1}); err != nil {
					c.Close()
					return
				}
				forward(c, socket)
			}()
		}
	}()
	return l.Addr().String()
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTLSTransport(t *testing.T) {
	d := startPrivateLibvirtd(t)
	ca := newTestCA(t)
	addr := tlsFront(t, ca, d.socket)
	node := writeNode(t, t.TempDir())

	pki := t.TempDir() // libvirt's pkipath layout
	cert, key := ca.issue(t, "vmgate", false)
	writeFile(t, filepath.Join(pki, "cacert.pem"), ca.pem)
	writeFile(t, filepath.Join(pki, "clientcert.pem"), cert)
	writeFile(t, filepath.Join(pki, "clientkey.pem"), key)
	other := newTestCA(t)
	otherCA := writeFile(t, filepath.Join(t.TempDir(), "other.pem"), other.pem)
	otherCert, otherKey := other.issue(t, "stranger", false)
	strangerDir := t.TempDir()
	strangerCert := writeFile(t, filepath.Join(strangerDir, "c.pem"), otherCert)
	strangerKey := writeFile(t, filepath.Join(strangerDir, "k.pem"), otherKey)

	base := "test+tls://" + addr + node
	tests := []struct {
		name    string
		uri     string
		tls     TLSConfig
		wantErr string // "" means the host comes up
	}{
		{name: "pkipath", uri: base + "?pkipath=" + pki},
		{name: "explicit files and server name", uri: base,
			tls: TLSConfig{CAFile: pki + "/cacert.pem", CertFile: pki + "/clientcert.pem", KeyFile: pki + "/clientkey.pem", ServerName: "kvm.test"}},
		{name: "wrong server name", uri: base + "?pkipath=" + pki, tls: TLSConfig{ServerName: "other.test"}, wantErr: "other.test"},
		{name: "unknown CA", uri: base + "?pkipath=" + pki, tls: TLSConfig{CAFile: otherCA}, wantErr: "unknown authority"},
		{name: "insecure_skip_verify skips the server check", uri: base + "?pkipath=" + pki + "&no_verify=1",
			tls: TLSConfig{CAFile: otherCA, InsecureSkipVerify: true}},
		{name: "client cert refused", uri: base + "?pkipath=" + pki,
			tls: TLSConfig{CertFile: strangerCert, KeyFile: strangerKey}, wantErr: "certificate"},
		{name: "missing ca file", uri: base, tls: TLSConfig{CAFile: "/nonexistent/ca.pem"}, wantErr: "ca_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newFakeSink()
			startSupervisor(t, Config{Name: "tls", URI: tt.uri, TLS: tt.tls, ConnectTimeout: 5 * time.Second}, sink)
			if tt.wantErr == "" {
				waitUp(t, sink)
				if n := len(sink.lastSync().Domains); n != 2 {
					t.Errorf("domains over tls: %d", n)
				}
				return
			}
			testkit.WaitFor(t, 90*time.Second, "tls host down with "+tt.wantErr, func() bool {
				h := sink.lastHealth()
				return h.Status == Down && strings.Contains(h.LastError, tt.wantErr)
			})
		})
	}
}

// --- SSH ---

// sshFront is an SSH server on loopback accepting one client key and forwarding
// direct-streamlocal channels to the unix socket they name, like OpenSSH's sshd.
type sshFront struct {
	addr    string
	hostKey ssh.PublicKey
	open    atomic.Int32 // live SSH connections
}

func newSSHFront(t *testing.T, clientKey ssh.PublicKey) *sshFront {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if string(k.Marshal()) == string(clientKey.Marshal()) {
			return nil, nil
		}
		return nil, io.EOF
	}}
	cfg.AddHostKey(signer)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &sshFront{addr: l.Addr().String(), hostKey: signer.PublicKey()}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); f.serve(c, cfg) }()
		}
	}()
	return f
}

func (f *sshFront) serve(c net.Conn, cfg *ssh.ServerConfig) {
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		c.Close()
		return
	}
	f.open.Add(1)
	defer f.open.Add(-1)
	go ssh.DiscardRequests(reqs) // keepalive@openssh.com gets a "false" reply
	for nc := range chans {
		if nc.ChannelType() != "direct-streamlocal@openssh.com" {
			_ = nc.Reject(ssh.UnknownChannelType, "no")
			continue
		}
		var msg struct {
			Path      string
			Reserved0 string
			Reserved1 uint32
		}
		if err := ssh.Unmarshal(nc.ExtraData(), &msg); err != nil {
			_ = nc.Reject(ssh.ConnectionFailed, err.Error())
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go ssh.DiscardRequests(creqs)
		go forward(chanConn{ch}, msg.Path)
	}
	sc.Close()
}

// chanConn adapts an ssh.Channel for forward.
type chanConn struct{ ssh.Channel }

func (chanConn) LocalAddr() net.Addr              { return nil }
func (chanConn) RemoteAddr() net.Addr             { return nil }
func (chanConn) SetDeadline(time.Time) error      { return nil }
func (chanConn) SetReadDeadline(time.Time) error  { return nil }
func (chanConn) SetWriteDeadline(time.Time) error { return nil }
func (c chanConn) Read(b []byte) (int, error)     { return c.Channel.Read(b) }
func (c chanConn) Write(b []byte) (int, error)    { return c.Channel.Write(b) }
func (c chanConn) Close() error                   { return c.Channel.Close() }

// writeClientKey writes a new ed25519 private key to path and returns its signer.
func writeClientKey(t *testing.T, path string) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, pem.EncodeToMemory(block))
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

func TestSSHTransport(t *testing.T) {
	d := startPrivateLibvirtd(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_ed25519")
	clientSigner := writeClientKey(t, keyFile)
	front := newSSHFront(t, clientSigner.PublicKey())
	_, port, _ := net.SplitHostPort(front.addr)

	knownLine := func(k ssh.PublicKey) []byte {
		return []byte("[127.0.0.1]:" + port + " " + string(ssh.MarshalAuthorizedKey(k)))
	}
	good := writeFile(t, filepath.Join(dir, "known_hosts"), knownLine(front.hostKey))
	empty := writeFile(t, filepath.Join(dir, "known_hosts.empty"), nil)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(otherPriv)
	changed := writeFile(t, filepath.Join(dir, "known_hosts.changed"), knownLine(otherSigner.PublicKey()))

	uri := "test+ssh://vmgate@" + front.addr + writeNode(t, t.TempDir()) + "?socket=" + d.socket
	fp := ssh.FingerprintSHA256(front.hostKey)
	tests := []struct {
		name    string
		ssh     SSHConfig
		wantErr []string
	}{
		{name: "known host", ssh: SSHConfig{KeyFile: keyFile, KnownHosts: good}},
		{name: "unknown host refused", ssh: SSHConfig{KeyFile: keyFile, KnownHosts: empty},
			wantErr: []string{"unknown", fp, "127.0.0.1:" + port}},
		{name: "changed key refused", ssh: SSHConfig{KeyFile: keyFile, KnownHosts: changed},
			wantErr: []string{"CHANGED", fp, ssh.FingerprintSHA256(otherSigner.PublicKey())}},
		{name: "insecure skip", ssh: SSHConfig{KeyFile: keyFile, KnownHosts: empty, InsecureSkipHostKeyCheck: true}},
		{name: "wrong key", ssh: SSHConfig{KeyFile: writeWrongKey(t, dir), KnownHosts: good}, wantErr: []string{"unable to authenticate"}},
		{name: "missing known_hosts", ssh: SSHConfig{KeyFile: keyFile, KnownHosts: filepath.Join(dir, "nope")}, wantErr: []string{"known_hosts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newFakeSink()
			startSupervisor(t, Config{Name: "ssh", URI: uri, SSH: tt.ssh, ConnectTimeout: 5 * time.Second}, sink)
			if len(tt.wantErr) == 0 {
				waitUp(t, sink)
				if n := len(sink.lastSync().Domains); n != 2 {
					t.Errorf("domains over ssh: %d", n)
				}
				return
			}
			testkit.WaitFor(t, 90*time.Second, "ssh host down", func() bool { return sink.lastHealth().Status == Down })
			for _, w := range tt.wantErr {
				if h := sink.lastHealth(); !strings.Contains(h.LastError, w) {
					t.Errorf("LastError %q does not name %q", h.LastError, w)
				}
			}
		})
	}
	// Every supervisor has stopped: closing the libvirt stream closed the SSH clients.
	testkit.WaitFor(t, 90*time.Second, "ssh connections closed", func() bool { return front.open.Load() == 0 })
}

func writeWrongKey(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "wrong_key")
	writeClientKey(t, p)
	return p
}
