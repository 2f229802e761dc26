package hosts

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Transports a URI may name after the "+": qemu+ssh://...
const (
	TransportUnix = "unix"
	TransportTCP  = "tcp"
	TransportTLS  = "tls"
	TransportSSH  = "ssh"
)

// Default ports and sockets of libvirtd (see libvirt's "Remote support" docs).
const (
	DefaultTCPPort      = "16509"
	DefaultTLSPort      = "16514"
	DefaultSSHPort      = "22"
	DefaultSystemSocket = "/var/run/libvirt/libvirt-sock"
)

// drivers vmgate accepts; the list is libvirt's hypervisor drivers that speak the
// remote protocol and have domains.
var drivers = map[string]bool{
	"qemu": true, "xen": true, "test": true, "lxc": true, "libxl": true,
	"bhyve": true, "ch": true, "vz": true, "openvz": true, "vbox": true,
}

// uriOptions are the query options ParseURI understands; libvirt has more, but an
// option we would silently ignore is worse than a clear error.
var uriOptions = map[string]bool{
	"socket": true, "pkipath": true, "no_verify": true, "keyfile": true,
	"known_hosts": true, "name": true, "mode": true, "no_tty": true,
}

// URI is a libvirt connection URI as virsh takes it, taken apart.
type URI struct {
	Raw       string
	Driver    string // qemu, xen, test...
	Transport string // unix, tcp, tls, ssh
	User      string
	Host      string // without port; "" for local unix
	Port      string // "" means the transport's default
	Path      string // /system, /session, /abs/file.xml
	Options   url.Values

	Socket     string // socket=: local socket, or remote socket for ssh
	PKIPath    string // pkipath=
	NoVerify   bool   // no_verify=1 (tls only)
	KeyFile    string // keyfile= (ssh)
	KnownHosts string // known_hosts= (ssh)
	Name       string // name=: overrides the URI sent in ConnectOpen

	shown string // Raw as messages print it (redactURI)
	hide  bool   // an '@' outside the user part: messages quote no part of Raw
}

// ParseURI parses a libvirt URI such as qemu+ssh://root@kvm1/system or
// test+unix:///abs/node.xml.
func ParseURI(s string) (URI, error) {
	u := URI{Raw: s}
	if s == "" {
		return u, errors.New("uri: empty")
	}
	pu, err := url.Parse(s)
	if err != nil {
		// url.Error quotes the whole URI, password included: keep only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return u, fmt.Errorf("uri: not a URI: %w", err)
	}
	u.shown = redactURI(pu)
	if strayAt(s, pu) {
		// An '@' Go did not take for the end of a user part (a password with a '/' in
		// it): what precedes it may be a secret, so messages quote no part of the URI.
		u.shown, u.hide = pu.Scheme+"://"+redacted, true
	}
	if pu.Opaque != "" || pu.Scheme == "" {
		// Without a scheme Go reads it all as a path: no part can be told to be a secret.
		return u, errors.New("uri: not of the form driver[+transport]://[user@][host][:port]/path")
	}
	driver, transport, hasTransport := strings.Cut(pu.Scheme, "+")
	if !drivers[driver] {
		return u, fmt.Errorf("uri: unsupported driver %q in %q", driver, u.shown)
	}
	if !hasTransport {
		// libvirt: no transport means tls with a host, unix without.
		transport = TransportUnix
		if pu.Host != "" {
			transport = TransportTLS
		}
	}
	switch transport {
	case TransportUnix, TransportTCP, TransportTLS, TransportSSH:
	default:
		return u, fmt.Errorf("uri: unsupported transport %q in %q", transport, u.shown)
	}
	u.Driver, u.Transport = driver, transport
	u.Host, u.Port, u.Path = pu.Hostname(), pu.Port(), pu.Path
	if pu.User != nil {
		if _, ok := pu.User.Password(); ok {
			return u, fmt.Errorf("uri: password in %q: passwords in URIs are not accepted, use a key", u.shown)
		}
		u.User = pu.User.Username()
	}
	if err := u.parseOptions(pu.Query()); err != nil {
		return u, err
	}
	return u, u.check()
}

// redacted stands for what redactURI hides.
const redacted = "xxxxx"

// optionName is what a libvirt URI option's name looks like; any other "name" may be a
// pasted secret (?s3cret) and is not printed either.
var optionName = regexp.MustCompile(`^[a-z_]{1,32}$`)

// PublicURI is a URI as vmgate shows it to SNMP managers (hypervisorUri): redactURI's
// rules, and no query at all (options hold key file paths and the like); "" when the
// URI cannot be parsed.
func PublicURI(raw string) string {
	pu, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if strayAt(raw, pu) {
		return pu.Scheme + "://" + redacted
	}
	pu.RawQuery, pu.ForceQuery = "", false
	return redactURI(pu)
}

// strayAt tells whether raw has an '@' after "://" that url.Parse did not take for the
// end of a user part.
func strayAt(raw string, pu *url.URL) bool {
	_, rest, ok := strings.Cut(raw, "://")
	return ok && pu.User == nil && strings.Contains(rest, "@")
}

// part is a piece of the URI as a message may quote it.
func (u URI) part(s string) string {
	if u.hide {
		return redacted
	}
	return s
}

// redactURI is the URI as messages print it: the password, the values of options vmgate
// does not know (password=, token=...) and the fragment become xxxxx; the rest is kept so
// the message still points at the host and the option.
func redactURI(pu *url.URL) string {
	if pu.Opaque != "" {
		return pu.Scheme + ":" + redacted
	}
	c := *pu
	if c.User != nil {
		if _, ok := c.User.Password(); ok {
			c.User = url.UserPassword(c.User.Username(), redacted)
		}
	}
	if c.RawQuery != "" {
		var parts []string
		for _, kv := range strings.Split(c.RawQuery, "&") {
			k, _, hasValue := strings.Cut(kv, "=")
			name, err := url.QueryUnescape(k)
			switch {
			case err == nil && uriOptions[name]:
				parts = append(parts, kv)
			case err == nil && optionName.MatchString(name) && hasValue:
				parts = append(parts, k+"="+redacted)
			case err == nil && optionName.MatchString(name):
				parts = append(parts, k)
			default:
				parts = append(parts, redacted)
			}
		}
		c.RawQuery = strings.Join(parts, "&")
	}
	if c.Fragment != "" {
		c.Fragment, c.RawFragment = redacted, ""
	}
	return c.String()
}

func (u *URI) parseOptions(q url.Values) error {
	u.Options = q
	var errs []error
	for k := range q {
		switch {
		case uriOptions[k]:
		case optionName.MatchString(k):
			errs = append(errs, fmt.Errorf("uri: unsupported option %q in %q", u.part(k), u.shown))
		default:
			errs = append(errs, fmt.Errorf("uri: unsupported option (name not shown: it may be a secret) in %q", u.shown))
		}
	}
	u.Socket, u.PKIPath = q.Get("socket"), q.Get("pkipath")
	u.KeyFile, u.KnownHosts, u.Name = q.Get("keyfile"), q.Get("known_hosts"), q.Get("name")
	if nv := q.Get("no_verify"); nv != "" {
		n, err := strconv.Atoi(nv)
		if err != nil {
			errs = append(errs, fmt.Errorf("uri: no_verify=%q in %q: want 0 or 1", u.part(nv), u.shown))
		}
		u.NoVerify = n != 0
	}
	switch m := q.Get("mode"); m {
	case "", "legacy", "auto":
	default:
		errs = append(errs, fmt.Errorf("uri: mode=%q in %q: only legacy and auto are supported", u.part(m), u.shown))
	}
	return errors.Join(errs...)
}

// check enforces what makes sense per transport and driver.
func (u URI) check() error {
	var errs []error
	add := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("uri: "+format, a...))
	}
	if u.Transport == TransportUnix && (u.Host != "" || u.Port != "") {
		add("transport unix takes no host, got %q in %q", u.part(u.Host), u.shown)
	}
	if u.Transport != TransportUnix && u.Host == "" {
		add("transport %s needs a host in %q", u.Transport, u.shown)
	}
	if u.Port != "" {
		if p, err := strconv.Atoi(u.Port); err != nil || p < 1 || p > 65535 {
			add("invalid port %q in %q", u.part(u.Port), u.shown)
		}
	}
	if u.PKIPath != "" && u.Transport != TransportTLS {
		add("pkipath only applies to tls, not %s, in %q", u.Transport, u.shown)
	}
	if u.NoVerify && u.Transport != TransportTLS {
		add("no_verify is only honoured for tls; for ssh set ssh.insecure_skip_host_key_check, in %q", u.shown)
	}
	if (u.KeyFile != "" || u.KnownHosts != "") && u.Transport != TransportSSH {
		add("keyfile/known_hosts only apply to ssh, not %s, in %q", u.Transport, u.shown)
	}
	if u.Socket != "" && !filepath.IsAbs(u.Socket) {
		add("socket=%q must be an absolute path in %q", u.part(u.Socket), u.shown)
	}
	if u.Socket != "" && (u.Transport == TransportTCP || u.Transport == TransportTLS) {
		add("socket only applies to unix and ssh, not %s, in %q", u.Transport, u.shown)
	}
	if u.Name == "" {
		errs = append(errs, u.checkPath())
	}
	return errors.Join(errs...)
}

func (u URI) checkPath() error {
	switch u.Driver {
	case "test":
		if u.Path == "/default" || (filepath.IsAbs(u.Path) && u.Path != "/") {
			return nil
		}
		return fmt.Errorf("uri: test driver needs /default or an absolute file path, got path %q in %q", u.part(u.Path), u.shown)
	case "qemu", "lxc", "vbox", "ch":
		if u.Path == "/system" || u.Path == "/session" {
			return nil
		}
		return fmt.Errorf("uri: path must be /system or /session, got %q in %q", u.part(u.Path), u.shown)
	}
	if u.Path == "" || u.Path == "/" || u.Path == "/system" {
		return nil
	}
	return fmt.Errorf("uri: path must be /system, got %q in %q", u.part(u.Path), u.shown)
}

// DriverURI is the URI sent in ConnectOpen: once connected, every connection is local
// to the daemon, so qemu+ssh://h/system asks for qemu:///system.
func (u URI) DriverURI() string {
	if u.Name != "" {
		return u.Name
	}
	return u.Driver + "://" + u.Path
}

// Address is host:port for the network transports, with the transport's default port.
func (u URI) Address() string {
	port := u.Port
	if port == "" {
		switch u.Transport {
		case TransportTCP:
			port = DefaultTCPPort
		case TransportTLS:
			port = DefaultTLSPort
		case TransportSSH:
			port = DefaultSSHPort
		}
	}
	return net.JoinHostPort(u.Host, port)
}

// SocketPath is the libvirt unix socket: the local one for unix, the remote one for ssh.
// Session daemons listen under $XDG_RUNTIME_DIR (or ~/.cache) of the local user.
func (u URI) SocketPath() string {
	if u.Socket != "" {
		return u.Socket
	}
	if u.Path == "/session" && u.Transport == TransportUnix {
		if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
			return filepath.Join(d, "libvirt", "libvirt-sock")
		}
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, ".cache", "libvirt", "libvirt-sock")
		}
	}
	return DefaultSystemSocket
}

// ConfDir returns where the system daemon of the URI's driver keeps persistent domain
// definitions; "" when not known (session daemons, the test driver...).
func ConfDir(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Path != "/system" {
		return ""
	}
	driver, _, _ := strings.Cut(u.Scheme, "+")
	switch driver {
	case "qemu":
		return "/etc/libvirt/qemu"
	case "xen", "libxl":
		return "/etc/libvirt/libxl"
	case "lxc":
		return "/etc/libvirt/lxc"
	}
	return ""
}
