package web

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Config is the http section: where /metrics, the health checks, the landing page and
// Prometheus's service discovery are served. Off unless Listen is set.
type Config struct {
	// Listen is HOST:PORT. Empty (default): no HTTP server.
	Listen string `yaml:"listen"`
	// SDTarget is the SNMP address /prometheus/sd gives Prometheus (HOST:PORT, as the
	// snmp_exporter takes it). Empty (default): the first UDP address the agent listens on.
	SDTarget string `yaml:"sd_target"`
	// TLS turns HTTPS on when CertFile and KeyFile are set.
	TLS TLSConfig `yaml:"tls"`
	// BasicAuthUsers maps user names to bcrypt hashes of their passwords (as
	// htpasswd -nbB makes). Empty: no authentication.
	BasicAuthUsers map[string]Hash `yaml:"basic_auth_users"`
}

// TLSConfig is the server side of HTTPS.
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile, when set, requires a client certificate signed by one of its CAs.
	ClientCAFile string `yaml:"client_ca_file"`
}

// Hash is a bcrypt password hash. It is no password, but an offline guessing attack
// starts from it: it prints as <secret>.
type Hash string

// MarshalYAML keeps the hash out of logged configurations.
func (Hash) MarshalYAML() (any, error) { return "<secret>", nil }

// String keeps the hash out of log lines.
func (Hash) String() string { return "<secret>" }

// Enabled reports whether an HTTP server is configured.
func (c Config) Enabled() bool { return c.Listen != "" }

// Validate returns every problem of the section, each naming its key under "http.".
func (c Config) Validate() error {
	var errs []error
	if c.Listen != "" {
		if _, _, err := splitHostPort(c.Listen); err != nil {
			errs = append(errs, fmt.Errorf("http.listen: %q: %w", c.Listen, err))
		}
	}
	if c.SDTarget != "" {
		if _, _, err := splitHostPort(c.SDTarget); err != nil {
			errs = append(errs, fmt.Errorf("http.sd_target: %q: %w", c.SDTarget, err))
		}
	}
	t := c.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, errors.New("http.tls: cert_file and key_file go together"))
	}
	if t.ClientCAFile != "" && t.CertFile == "" {
		errs = append(errs, errors.New("http.tls.client_ca_file: needs cert_file and key_file"))
	}
	for key, f := range map[string]string{"cert_file": t.CertFile, "key_file": t.KeyFile, "client_ca_file": t.ClientCAFile} {
		if f != "" && !filepath.IsAbs(f) {
			errs = append(errs, fmt.Errorf("http.tls.%s: %q must be an absolute path", key, f))
		}
	}
	for user, h := range c.BasicAuthUsers {
		switch {
		case user == "" || strings.ContainsAny(user, ":\r\n"):
			errs = append(errs, fmt.Errorf("http.basic_auth_users: user %q: empty or with ':' or a line break", user))
		default:
			if _, err := bcrypt.Cost([]byte(h)); err != nil {
				errs = append(errs, fmt.Errorf("http.basic_auth_users: user %q: not a bcrypt hash (htpasswd -nbB USER PASSWORD makes one)", user))
			}
		}
	}
	return errors.Join(errs...)
}

// Warnings lists what is allowed but unwise: a server reachable from elsewhere without
// authentication, passwords over plain HTTP, key files others can read.
func (c Config) Warnings() []string {
	if c.Listen == "" {
		return nil
	}
	var w []string
	host, _, _ := splitHostPort(c.Listen)
	tls := c.TLS.CertFile != ""
	if !loopback(host) && len(c.BasicAuthUsers) == 0 && c.TLS.ClientCAFile == "" {
		w = append(w, fmt.Sprintf("http.listen: %q is not loopback and no authentication is configured: anyone reaching it sees the host list and metrics", c.Listen))
	}
	if len(c.BasicAuthUsers) > 0 && !tls && !loopback(host) {
		w = append(w, "http.basic_auth_users: without http.tls the passwords travel in clear text")
	}
	if f := c.TLS.KeyFile; f != "" {
		if fi, err := os.Stat(f); err == nil && fi.Mode().Perm()&0o077 != 0 {
			w = append(w, fmt.Sprintf("http.tls.key_file: private key %q has mode %#o: chmod 600 it", f, fi.Mode().Perm()))
		}
	}
	return w
}

func splitHostPort(s string) (string, string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", "", errors.New("want HOST:PORT")
	}
	if port == "" {
		return "", "", errors.New("no port")
	}
	return host, port, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
