package hosts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"
)

// DialFunc opens the byte stream to a libvirt daemon; it must honour ctx's deadline
// for everything it does, handshakes included.
type DialFunc func(ctx context.Context) (net.Conn, error)

// newDialer picks the dialer for the URI's transport.
func newDialer(cfg Config, u URI, logger *slog.Logger) (DialFunc, error) {
	switch u.Transport {
	case TransportUnix:
		return dialUnix(u.SocketPath()), nil
	case TransportTCP:
		return dialTCP(u.Address()), nil
	case TransportTLS:
		return dialTLS(cfg.TLS, u), nil
	case TransportSSH:
		return newSSHDialer(cfg, u, logger)
	}
	return nil, fmt.Errorf("uri: unsupported transport %q in %q", u.Transport, u.Raw)
}

func dialUnix(path string) DialFunc {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path) // its errors name network and path
	}
}

func dialTCP(addr string) DialFunc {
	return func(ctx context.Context) (net.Conn, error) {
		d := net.Dialer{KeepAlive: 15 * time.Second}
		return d.DialContext(ctx, "tcp", addr)
	}
}

// tlsFiles resolves the CA, certificate and key: explicit config, then the pkipath=
// directory, then libvirt's default layout.
func tlsFiles(c TLSConfig, u URI) (ca, cert, key string) {
	ca, cert, key = "/etc/pki/CA/cacert.pem", "/etc/pki/libvirt/clientcert.pem", "/etc/pki/libvirt/private/clientkey.pem"
	if u.PKIPath != "" {
		ca = filepath.Join(u.PKIPath, "cacert.pem")
		cert = filepath.Join(u.PKIPath, "clientcert.pem")
		key = filepath.Join(u.PKIPath, "clientkey.pem")
	}
	if c.CAFile != "" {
		ca = c.CAFile
	}
	if c.CertFile != "" {
		cert, key = c.CertFile, c.KeyFile
	}
	return ca, cert, key
}

// tlsClientConfig reads the files on every dial, so renewed certificates are picked
// up at the next reconnect.
func tlsClientConfig(c TLSConfig, u URI) (*tls.Config, error) {
	caFile, certFile, keyFile := tlsFiles(c, u)
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("tls: ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: ca_file %s: no PEM certificate found", caFile)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: client certificate %s / key %s: %w", certFile, keyFile, err)
	}
	name := c.ServerName
	if name == "" {
		name = u.Host
	}
	return &tls.Config{
		RootCAs:            pool,
		Certificates:       []tls.Certificate{pair},
		ServerName:         name,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // only when configured by name
	}, nil
}

func dialTLS(c TLSConfig, u URI) DialFunc {
	addr := u.Address()
	return func(ctx context.Context) (net.Conn, error) {
		cfg, err := tlsClientConfig(c, u)
		if err != nil {
			return nil, err
		}
		d := tls.Dialer{NetDialer: &net.Dialer{KeepAlive: 15 * time.Second}, Config: cfg}
		conn, err := d.DialContext(ctx, "tcp", addr) // the handshake runs under ctx
		if err != nil {
			return nil, fmt.Errorf("dial tls %s (server name %q): %w", addr, cfg.ServerName, err)
		}
		if err := readTLSAck(ctx, conn); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("dial tls %s: %w", addr, err)
		}
		return conn, nil
	}
}

// readTLSAck reads the byte libvirtd sends right after the handshake: 1 when it accepted
// the client certificate. Until it is consumed every RPC frame would be off by one.
func readTLSAck(ctx context.Context, conn net.Conn) error {
	done := deadlineConn(ctx, conn)
	var b [1]byte
	_, err := io.ReadFull(conn, b[:])
	if derr := done(); err == nil {
		err = derr
	}
	if err != nil {
		return fmt.Errorf("reading libvirtd's certificate check answer: %w", err)
	}
	if b[0] != 1 {
		return permanent(fmt.Errorf("libvirtd refused the client certificate (answer %d)", b[0]))
	}
	return nil
}

// deadlineConn applies ctx's deadline to c for a handshake that takes no context, and
// closes c if ctx is cancelled. The returned func ends both and reports ctx's error.
func deadlineConn(ctx context.Context, c net.Conn) func() error {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	return func() error {
		if !stop() {
			return ctx.Err()
		}
		return c.SetDeadline(time.Time{})
	}
}
