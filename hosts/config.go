package hosts

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Config is one hypervisor, as found in a list under hosts: in the gateway config.
type Config struct {
	// Name is the SNMPv3 context name of the host: [A-Za-z0-9._-]{1,32}.
	Name string `yaml:"name"`
	// URI as virsh takes it, e.g. qemu+tls://kvm1.example.net/system.
	URI string    `yaml:"uri"`
	TLS TLSConfig `yaml:"tls"`
	SSH SSHConfig `yaml:"ssh"`

	ConnectTimeout    time.Duration `yaml:"connect_timeout"`    // dial with handshake; then ConnectOpen
	CallTimeout       time.Duration `yaml:"call_timeout"`       // any one libvirt call without its own deadline
	KeepaliveInterval time.Duration `yaml:"keepalive_interval"` // watchdog probe period
	KeepaliveTimeout  time.Duration `yaml:"keepalive_timeout"`  // no answer within this: disconnect
	StatsInterval     time.Duration `yaml:"stats_interval"`     // ConnectGetAllDomainStats period
	// StorageInterval is the longest time between two full reads of the pools and
	// volumes; the pool list itself is checked every stats round.
	StorageInterval time.Duration `yaml:"storage_interval"`
	// AddressInterval is the longest time between two reads of the running domains'
	// interface addresses; a domain re-read after an event is read at the next round.
	AddressInterval time.Duration `yaml:"address_interval"`
	BackoffMax      time.Duration `yaml:"backoff_max"` // cap of the reconnect backoff
}

// TLSConfig is for tls URIs (qemu+tls, xen+tls, test+tls...). Empty files fall back
// to the pkipath= URI option's directory (cacert.pem, clientcert.pem, clientkey.pem),
// then to libvirt's default layout (/etc/pki/CA/cacert.pem, /etc/pki/libvirt/clientcert.pem,
// /etc/pki/libvirt/private/clientkey.pem).
type TLSConfig struct {
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"` // default: the URI host
	// InsecureSkipVerify accepts any server certificate; logged as a warning. The only
	// way to turn the check off: no_verify=1 in the URI is refused without it.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// SSHConfig is for ssh URIs (qemu+ssh, xen+ssh...). The user comes from the URI
// (default: the local user).
type SSHConfig struct {
	KeyFile    string `yaml:"key_file"`    // private key; also keyfile= in the URI
	KnownHosts string `yaml:"known_hosts"` // default ~/.ssh/known_hosts; also known_hosts=
	UseAgent   bool   `yaml:"use_agent"`   // use the agent at $SSH_AUTH_SOCK
	// InsecureSkipHostKeyCheck accepts any host key; logged as a warning. The only way
	// to turn host key verification off.
	InsecureSkipHostKeyCheck bool `yaml:"insecure_skip_host_key_check"`
	// Socket is the remote libvirt socket; default /var/run/libvirt/libvirt-sock or the
	// URI's socket= option.
	Socket string `yaml:"socket"`
}

// Defaults applied by SetDefaults to zero fields.
const (
	DefaultConnectTimeout    = 10 * time.Second
	DefaultCallTimeout       = 30 * time.Second
	DefaultKeepaliveInterval = 5 * time.Second
	DefaultKeepaliveTimeout  = 15 * time.Second
	DefaultStatsInterval     = 10 * time.Second
	DefaultStorageInterval   = time.Minute
	DefaultAddressInterval   = time.Minute
	DefaultBackoffMax        = 60 * time.Second
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

// SetDefaults fills zero durations.
func (c *Config) SetDefaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&c.ConnectTimeout, DefaultConnectTimeout)
	set(&c.CallTimeout, DefaultCallTimeout)
	set(&c.KeepaliveInterval, DefaultKeepaliveInterval)
	set(&c.KeepaliveTimeout, DefaultKeepaliveTimeout)
	set(&c.StatsInterval, DefaultStatsInterval)
	set(&c.StorageInterval, DefaultStorageInterval)
	set(&c.AddressInterval, DefaultAddressInterval)
	set(&c.BackoffMax, DefaultBackoffMax)
}

// Validate returns every problem at once. Messages name the field and value but not
// the host: the caller prefixes them, e.g. `hosts[3] "kvm-07": `.
func (c Config) Validate() error {
	var errs []error
	if !nameRE.MatchString(c.Name) {
		errs = append(errs, fmt.Errorf("name: %q must match [A-Za-z0-9._-]{1,32}", c.Name))
	}
	u, err := ParseURI(c.URI)
	if err != nil {
		errs = append(errs, err)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"connect_timeout", c.ConnectTimeout}, {"call_timeout", c.CallTimeout},
		{"keepalive_interval", c.KeepaliveInterval}, {"keepalive_timeout", c.KeepaliveTimeout},
		{"stats_interval", c.StatsInterval}, {"storage_interval", c.StorageInterval},
		{"address_interval", c.AddressInterval},
		{"backoff_max", c.BackoffMax},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %s must not be negative", d.field, d.v))
		}
	}
	if err == nil {
		errs = append(errs, c.validateTransport(u))
	}
	return errors.Join(errs...)
}

func (c Config) validateTransport(u URI) error {
	var errs []error
	if c.TLS != (TLSConfig{}) && u.Transport != TransportTLS {
		errs = append(errs, fmt.Errorf("tls: set, but the uri transport is %s", u.Transport))
	}
	if c.SSH != (SSHConfig{}) && u.Transport != TransportSSH {
		errs = append(errs, fmt.Errorf("ssh: set, but the uri transport is %s", u.Transport))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, fmt.Errorf("tls: cert_file %q and key_file %q must be set together", c.TLS.CertFile, c.TLS.KeyFile))
	}
	if u.NoVerify && !c.TLS.InsecureSkipVerify {
		errs = append(errs, fmt.Errorf("uri: no_verify=1 turns the server certificate check off: set tls.insecure_skip_verify: true to mean it, or drop no_verify"))
	}
	if c.SSH.Socket != "" && c.SSH.Socket[0] != '/' {
		errs = append(errs, fmt.Errorf("ssh: socket %q must be an absolute path", c.SSH.Socket))
	}
	if c.SSH.KeyFile != "" && u.KeyFile != "" && c.SSH.KeyFile != u.KeyFile {
		errs = append(errs, fmt.Errorf("ssh: key_file %q conflicts with keyfile=%q in the uri", c.SSH.KeyFile, u.KeyFile))
	}
	if u.Transport == TransportSSH && u.Path == "/session" && u.Socket == "" && c.SSH.Socket == "" {
		errs = append(errs, fmt.Errorf("ssh: socket: a remote session daemon needs ssh.socket or socket= (e.g. /run/user/UID/libvirt/libvirt-sock) in %q", c.URI))
	}
	return errors.Join(errs...)
}
