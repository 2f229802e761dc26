package hosts

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshDialer tunnels to the remote libvirt unix socket over an SSH connection with
// direct-streamlocal (the sshd must allow stream local forwarding, OpenSSH's default).
type sshDialer struct {
	addr, user, socket    string
	keyFile, knownHosts   string
	useAgent, skipHostKey bool
	keepalive, timeout    time.Duration
	log                   *slog.Logger
	forwarded             atomic.Bool // sshd has forwarded to the socket at least once
}

func newSSHDialer(cfg Config, u URI, logger *slog.Logger) (DialFunc, error) {
	d := &sshDialer{
		addr: u.Address(), user: u.User, socket: u.SocketPath(),
		keyFile: cfg.SSH.KeyFile, knownHosts: cfg.SSH.KnownHosts,
		useAgent: cfg.SSH.UseAgent, skipHostKey: cfg.SSH.InsecureSkipHostKeyCheck,
		keepalive: cfg.KeepaliveInterval, timeout: cfg.KeepaliveTimeout, log: logger,
	}
	if cfg.SSH.Socket != "" {
		d.socket = cfg.SSH.Socket
	}
	if d.keyFile == "" {
		d.keyFile = u.KeyFile
	}
	if d.knownHosts == "" {
		d.knownHosts = u.KnownHosts
	}
	home, _ := os.UserHomeDir()
	if d.knownHosts == "" {
		d.knownHosts = filepath.Join(home, ".ssh", "known_hosts")
	}
	if d.user == "" {
		cur, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("ssh: no user in the uri and no local user: %w", err)
		}
		d.user = cur.Username
	}
	if d.skipHostKey {
		logger.Warn("ssh host key verification is OFF (insecure_skip_host_key_check): connections can be intercepted", "addr", d.addr)
	}
	return d.dial, nil
}

func (d *sshDialer) dial(ctx context.Context) (net.Conn, error) {
	auth, closeAgent, err := d.authMethods()
	if err != nil {
		return nil, err
	}
	defer closeAgent()
	nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, fmt.Errorf("ssh: dial %s: %w", d.addr, err)
	}
	release := deadlineConn(ctx, nc)
	cfg := &ssh.ClientConfig{User: d.user, Auth: auth}
	if err := d.hostKeyConfig(cfg, nc.RemoteAddr()); err != nil {
		nc.Close()
		return nil, err
	}
	sc, chans, reqs, err := ssh.NewClientConn(nc, d.addr, cfg)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("ssh: handshake with %s as %s: %w", d.addr, d.user, err)
	}
	client := ssh.NewClient(sc, chans, reqs)
	ch, err := client.Dial("unix", d.socket)
	if err != nil {
		err = d.explainForward(client, err)
		client.Close()
		return nil, err
	}
	d.forwarded.Store(true)
	if err := release(); err != nil {
		client.Close()
		return nil, fmt.Errorf("ssh: %s: %w", d.addr, err)
	}
	c := &sshConn{Conn: ch, client: client}
	go sshKeepalive(c, d.keepalive, d.timeout)
	return c, nil
}

func (d *sshDialer) authMethods() ([]ssh.AuthMethod, func(), error) {
	var methods []ssh.AuthMethod
	closeAgent := func() {}
	keys := []string{d.keyFile}
	if d.keyFile == "" && !d.useAgent {
		home, _ := os.UserHomeDir()
		keys = nil
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			if p := filepath.Join(home, ".ssh", n); fileExists(p) {
				keys = append(keys, p)
			}
		}
	}
	for _, k := range keys {
		if k == "" {
			continue
		}
		signer, err := loadKey(k)
		if err != nil {
			return nil, closeAgent, err
		}
		methods = append(methods, ssh.PublicKeys(signer))
	}
	if d.useAgent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, closeAgent, errors.New("ssh: use_agent is set but SSH_AUTH_SOCK is empty")
		}
		ac, err := net.Dial("unix", sock)
		if err != nil {
			return nil, closeAgent, fmt.Errorf("ssh: agent %s: %w", sock, err)
		}
		closeAgent = func() { ac.Close() }
		methods = append(methods, ssh.PublicKeysCallback(agent.NewClient(ac).Signers))
	}
	if len(methods) == 0 {
		return nil, closeAgent, errors.New("ssh: no key: set ssh.key_file or ssh.use_agent, or have ~/.ssh/id_ed25519")
	}
	return methods, closeAgent, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func loadKey(path string) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ssh: key_file: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("ssh: key_file %s is passphrase protected: load it into an agent and set use_agent", path)
	}
	if err != nil {
		return nil, fmt.Errorf("ssh: key_file %s: %w", path, err)
	}
	return signer, nil
}

// hostKeyConfig sets the host key check and, from known_hosts, the host key algorithms
// to ask for, so a server with several keys presents one we know.
func (d *sshDialer) hostKeyConfig(cfg *ssh.ClientConfig, remote net.Addr) error {
	if d.skipHostKey {
		// configured by name; what was accepted is logged, so it can be checked later
		cfg.HostKeyCallback = func(host string, _ net.Addr, key ssh.PublicKey) error {
			d.log.Warn("ssh host key accepted without verification (insecure_skip_host_key_check)",
				"addr", host, "key_type", key.Type(), "fingerprint", ssh.FingerprintSHA256(key))
			return nil
		}
		return nil
	}
	cb, err := knownhosts.New(d.knownHosts)
	if err != nil {
		return fmt.Errorf("ssh: known_hosts: %w", err)
	}
	cfg.HostKeyAlgorithms = knownAlgorithms(cb, d.addr, remote)
	cfg.HostKeyCallback = func(host string, remote net.Addr, key ssh.PublicKey) error {
		return d.explainHostKey(cb(host, remote, key), host, key)
	}
	return nil
}

func (d *sshDialer) explainHostKey(err error, host string, key ssh.PublicKey) error {
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	fp := ssh.FingerprintSHA256(key)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ke) && len(ke.Want) == 0:
		return permanent(fmt.Errorf("ssh: host %s is unknown: its %s key %s is not in %s; verify the fingerprint and add it", host, key.Type(), fp, d.knownHosts))
	case errors.As(err, &ke):
		w := ke.Want[0]
		return permanent(fmt.Errorf("ssh: host key of %s CHANGED: got %s %s, but %s:%d has %s %s; refusing (possible man-in-the-middle)",
			host, key.Type(), fp, w.Filename, w.Line, w.Key.Type(), ssh.FingerprintSHA256(w.Key)))
	case errors.As(err, &re):
		return permanent(fmt.Errorf("ssh: host key of %s (%s) is revoked in %s:%d", host, fp, re.Revoked.Filename, re.Revoked.Line))
	}
	return fmt.Errorf("ssh: host key of %s (%s): %w", host, fp, err)
}

// explainForward says why sshd did not open the remote socket. OpenSSH answers "open
// failed" both when its configuration forbids the forward and when the socket is
// missing, so a command on the host looks for the socket.
func (d *sshDialer) explainForward(client *ssh.Client, err error) error {
	var oe *ssh.OpenChannelError
	if !errors.As(err, &oe) {
		return fmt.Errorf("ssh: %s: open remote socket %s: %w", d.addr, d.socket, err)
	}
	if oe.Reason == ssh.Prohibited {
		return permanent(fmt.Errorf("ssh: %s: sshd refused to forward to %s (AllowStreamLocalForwarding? AllowTcpForwarding?): %w", d.addr, d.socket, err))
	}
	switch probeSocket(client, d.socket) {
	case socketAbsent:
		return fmt.Errorf("ssh: %s: no socket %s on the host (libvirtd not running? socket= and ssh.socket name a path on the remote host): %w", d.addr, d.socket, err)
	case socketPresent:
		if d.forwarded.Load() {
			return fmt.Errorf("ssh: %s: socket %s is there but nothing accepted the connection (libvirtd stopped?): %w", d.addr, d.socket, err)
		}
		// Not permanent: a socket file left by a libvirtd that died reads the same.
		return fmt.Errorf("ssh: %s: sshd refused to forward to %s (AllowStreamLocalForwarding? AllowTcpForwarding?), or nothing listens on it (a libvirtd that died and left its socket file): %w", d.addr, d.socket, err)
	}
	return fmt.Errorf("ssh: %s: open remote socket %s: sshd refused the forward (AllowStreamLocalForwarding?) or the socket is missing: %w", d.addr, d.socket, err)
}

type socketProbe int

const (
	socketUnknown socketProbe = iota // the command could not run (no shell, forced command)
	socketPresent
	socketAbsent
)

// probeSocket runs `test -S` on the host; the words it prints, not its exit status,
// decide, so a forced command or a shell that cannot run it reads as unknown.
func probeSocket(client *ssh.Client, path string) socketProbe {
	sess, err := client.NewSession()
	if err != nil {
		return socketUnknown
	}
	defer sess.Close()
	q := "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
	out, _ := sess.Output("test -S " + q + " && echo vmgate-socket || echo vmgate-nosocket")
	switch strings.TrimSpace(string(out)) {
	case "vmgate-socket":
		return socketPresent
	case "vmgate-nosocket":
		return socketAbsent
	}
	return socketUnknown
}

// knownAlgorithms asks the known_hosts callback which keys it has for the host by
// offering a key it cannot know.
func knownAlgorithms(cb ssh.HostKeyCallback, host string, remote net.Addr) []string {
	probe, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if !errors.As(cb(host, remote, probe), &ke) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range ke.Want {
		for _, a := range algorithmsFor(k.Key.Type()) {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// sshKeepalive closes the client when the server stops answering keepalive requests,
// which also ends the libvirt connection tunnelled through it; reads then say why.
func sshKeepalive(c *sshConn, every, timeout time.Duration) {
	if every <= 0 {
		return
	}
	client := c.client
	done := make(chan struct{})
	go func() { _ = client.Wait(); close(done) }()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		timer := time.NewTimer(timeout)
		select {
		case err := <-reply:
			timer.Stop()
			if err != nil {
				c.fail(fmt.Errorf("ssh keepalive: %w", err))
				return
			}
		case <-timer.C:
			c.fail(fmt.Errorf("ssh keepalive: no answer within %s", timeout))
			return
		case <-done:
			timer.Stop()
			return
		}
	}
}

type sshConn struct {
	net.Conn
	client *ssh.Client
	once   sync.Once
	cause  atomic.Pointer[error] // why the keepalive closed the client
}

// fail closes the SSH client for cause, which later reads report.
func (c *sshConn) fail(cause error) {
	c.cause.CompareAndSwap(nil, &cause)
	_ = c.client.Close()
}

func (c *sshConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil {
		if cause := c.cause.Load(); cause != nil {
			err = fmt.Errorf("%w: %w", *cause, err)
		}
	}
	return n, err
}

func (c *sshConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { _ = c.client.Close() })
	return err
}
