package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/snmp"
)

// Registry backends.
const (
	BackendFile = "file" // snmp.state_dir/indexes.json: one gateway
	BackendEtcd = "etcd" // an etcd cluster shared by the replicas
)

// Defaults of the etcd backend.
const (
	DefaultEtcdPrefix      = "/vmgate/"
	DefaultEtcdDialTimeout = 5 * time.Second
	DefaultEtcdTimeout     = 2 * time.Second
)

// RegistryConfig says where the index registry lives. The etcd keys are only used with
// backend etcd.
type RegistryConfig struct {
	Backend   string   `yaml:"backend"`
	Endpoints []string `yaml:"endpoints"`
	Prefix    string   `yaml:"prefix"`
	// DialTimeout bounds the first connection at start-up; Timeout bounds each
	// registry operation afterwards (a new VM's index while the view waits for it).
	DialTimeout time.Duration `yaml:"dial_timeout"`
	Timeout     time.Duration `yaml:"timeout"`
	TLS         EtcdTLS       `yaml:"tls"`
	Username    string        `yaml:"username"`
	Password    snmp.Secret   `yaml:"password"`
}

// EtcdTLS are the PEM files of a TLS connection to etcd: the CA that signed the
// members' certificates and, for client-certificate authentication, a certificate
// and its key.
type EtcdTLS struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// ReplicaConfig identifies this gateway among the replicas sharing a registry.
type ReplicaConfig struct {
	Name string `yaml:"name"` // default: the hostname
}

var replicaNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,63}$`)

// SetDefaults fills the backend (file), the etcd defaults when etcd is chosen.
func (r *RegistryConfig) SetDefaults() {
	if r.Backend == "" {
		r.Backend = BackendFile
	}
	if r.Backend != BackendEtcd {
		return
	}
	if r.Prefix == "" {
		r.Prefix = DefaultEtcdPrefix
	}
	if r.DialTimeout == 0 {
		r.DialTimeout = DefaultEtcdDialTimeout
	}
	if r.Timeout == 0 {
		r.Timeout = DefaultEtcdTimeout
	}
}

// SetDefaults names the replica after the host when the config does not.
func (r *ReplicaConfig) SetDefaults() {
	if r.Name == "" {
		if h, err := os.Hostname(); err == nil {
			r.Name, _, _ = strings.Cut(h, ".")
		}
	}
}

// Validate returns every problem of the registry section, each naming its key.
func (r RegistryConfig) Validate() error {
	switch r.Backend {
	case BackendFile:
		return nil
	case BackendEtcd:
	default:
		return fmt.Errorf("registry.backend: %q: want %s or %s", r.Backend, BackendFile, BackendEtcd)
	}
	var errs []error
	if len(r.Endpoints) == 0 {
		errs = append(errs, errors.New("registry.endpoints: required with backend etcd"))
	}
	schemes := map[string]bool{}
	for i, ep := range r.Endpoints {
		scheme, err := endpointScheme(ep)
		if err != nil {
			errs = append(errs, fmt.Errorf("registry.endpoints[%d]: %q: %w", i, ep, err))
			continue
		}
		schemes[scheme] = true
	}
	if schemes["http"] && schemes["https"] {
		errs = append(errs, errors.New("registry.endpoints: mixes http:// and https://"))
	}
	if schemes["http"] && r.TLS != (EtcdTLS{}) {
		errs = append(errs, errors.New("registry.tls: set, but the endpoints say http://; use https:// or host:port"))
	}
	if !strings.HasPrefix(r.Prefix, "/") || !strings.HasSuffix(r.Prefix, "/") {
		errs = append(errs, fmt.Errorf("registry.prefix: %q must start and end with /", r.Prefix))
	}
	if r.DialTimeout <= 0 {
		errs = append(errs, fmt.Errorf("registry.dial_timeout: %s must be positive", r.DialTimeout))
	}
	if r.Timeout <= 0 || r.Timeout > time.Minute {
		errs = append(errs, fmt.Errorf("registry.timeout: %s must be in (0, 1m]: the view waits for it", r.Timeout))
	}
	if (r.TLS.CertFile == "") != (r.TLS.KeyFile == "") {
		errs = append(errs, errors.New("registry.tls: cert_file and key_file go together"))
	}
	if (r.Username == "") != (r.Password == "") {
		errs = append(errs, errors.New("registry: username and password go together"))
	}
	return errors.Join(errs...)
}

// unusedKeys lists the etcd keys set under backend file: ignored, but a forgotten
// "backend: etcd" would silently give this gateway numbers of its own.
func (r RegistryConfig) unusedKeys() []string {
	var keys []string
	for _, f := range []struct {
		key string
		set bool
	}{
		{"endpoints", len(r.Endpoints) > 0}, {"prefix", r.Prefix != ""},
		{"dial_timeout", r.DialTimeout != 0}, {"timeout", r.Timeout != 0},
		{"tls", r.TLS != (EtcdTLS{})}, {"username", r.Username != ""}, {"password", r.Password != ""},
	} {
		if f.set {
			keys = append(keys, f.key)
		}
	}
	return keys
}

// endpointScheme checks an etcd endpoint: http://host:port, https://host:port or
// host:port (scheme "").
func endpointScheme(ep string) (string, error) {
	hostport := ep
	scheme := ""
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil {
			return "", errors.New("not a URL")
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return "", fmt.Errorf("scheme %q: want http or https", u.Scheme)
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return "", errors.New("want scheme://host:port only")
		}
		scheme, hostport = u.Scheme, u.Host
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || host == "" || port == "" {
		return "", errors.New("want host:port")
	}
	return scheme, nil
}

// Validate checks the replica's name.
func (r ReplicaConfig) Validate() error {
	if !replicaNameRE.MatchString(r.Name) {
		return fmt.Errorf("replica.name: %q must match [A-Za-z0-9._-]{1,63}", r.Name)
	}
	return nil
}

// warnings: etcd keys under backend file; a password to a plain-text endpoint.
func (r RegistryConfig) warnings() []string {
	if r.Backend == BackendFile {
		if keys := r.unusedKeys(); len(keys) > 0 {
			return []string{fmt.Sprintf("registry: %s: only used with backend etcd; ignored with backend file",
				strings.Join(keys, ", "))}
		}
		return nil
	}
	if r.Backend != BackendEtcd || r.Password == "" {
		return nil
	}
	for _, ep := range r.Endpoints {
		if !strings.HasPrefix(ep, "https://") && r.TLS == (EtcdTLS{}) {
			return []string{"registry.password: sent to etcd in clear text (no TLS); use https:// endpoints and registry.tls"}
		}
	}
	return nil
}

// EtcdConfig is the registry package's view of the etcd settings.
func (c *Config) EtcdConfig() registry.EtcdConfig {
	r := c.Registry
	return registry.EtcdConfig{
		Endpoints: r.Endpoints, Prefix: r.Prefix, DialTimeout: r.DialTimeout, Timeout: r.Timeout,
		CAFile: r.TLS.CAFile, CertFile: r.TLS.CertFile, KeyFile: r.TLS.KeyFile,
		Username: r.Username, Password: string(r.Password), Replica: c.Replica.Name,
	}
}
