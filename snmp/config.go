package snmp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Defaults and limits for Config.
const (
	DefaultMaxMessageSize = 65507 // largest UDP payload over IPv4
	MinMaxMessageSize     = 484   // RFC 3417 section 3.2
	minPassphraseLen      = 8     // RFC 3414 section 11.2

	// Answers to communities, which anyone can send with a forged source address:
	// one Ethernet frame, and net-snmp's default -Cr, bound the reflection.
	DefaultCommunityMaxMessageSize = 1472
	DefaultCommunityMaxRepetitions = 10

	// Notifications waiting to be sent: the default holds 80 lifecycle events for each
	// of 50 VMs at once; the bound keeps a receiver that never answers from growing
	// the queue without end.
	DefaultNotifyQueue = 4096
	MaxNotifyQueue     = 1 << 20
)

// Secret is a string that never leaves the process through logs or marshalling.
type Secret string

const secretMask = "<secret>"

// String hides the secret.
func (s Secret) String() string { return secretMask }

// GoString hides the secret from %#v.
func (s Secret) GoString() string { return `"` + secretMask + `"` }

// MarshalText hides the secret from encoding/json and friends.
func (s Secret) MarshalText() ([]byte, error) { return []byte(secretMask), nil }

// LogValue hides the secret from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(secretMask) }

// MarshalYAML hides the secret.
func (s Secret) MarshalYAML() (any, error) {
	if s == "" {
		return "", nil
	}
	return secretMask, nil
}

// String renders the access as in the config file.
func (a Access) String() string {
	switch a {
	case ReadOnly:
		return "read-only"
	case ReadWrite:
		return "read-write"
	}
	return fmt.Sprintf("access(%d)", int(a))
}

// ParseAccess parses "read-only" or "read-write" (also "ro"/"rw").
func ParseAccess(s string) (Access, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "read-only", "readonly", "ro":
		return ReadOnly, nil
	case "read-write", "readwrite", "rw":
		return ReadWrite, nil
	}
	return 0, fmt.Errorf("unknown access %q (want read-only or read-write)", s)
}

// UnmarshalYAML reads "read-only" or "read-write".
func (a *Access) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := ParseAccess(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*a = v
	return nil
}

// MarshalYAML writes "read-only" or "read-write".
func (a Access) MarshalYAML() (any, error) { return a.String(), nil }

// Config is the SNMP agent's configuration (the "snmp:" section of vmgate's config).
type Config struct {
	Listen         []string    `yaml:"listen"`    // "udp:0.0.0.0:161", "udp6:[::]:161", "tcp:127.0.0.1:1161"
	StateDir       string      `yaml:"state_dir"` // engine ID and boots live here
	SysName        string      `yaml:"sys_name"`
	SysContact     string      `yaml:"sys_contact"`
	SysLocation    string      `yaml:"sys_location"`
	Communities    []Community `yaml:"communities"` // none by default
	Users          []User      `yaml:"users"`
	Notify         []Target    `yaml:"notify"`           // trap/inform destinations
	NotifyQueue    int         `yaml:"notify_queue"`     // notifications waiting to be sent; 0 = 4096
	Workers        int         `yaml:"workers"`          // requests in progress per UDP socket; 0 = 4*GOMAXPROCS
	MaxMessageSize int         `yaml:"max_message_size"` // 0 = 65507; min 484
	// Caps of answers to communities (GETBULK reflection): 0 = the defaults.
	CommunityMaxMessageSize int `yaml:"community_max_message_size"`
	CommunityMaxRepetitions int `yaml:"community_max_repetitions"`
}

// Community is a v1/v2c community string with its access and the context it maps to.
type Community struct {
	Name      string `yaml:"name"` // in logs and Principal.Name; "" = community[INDEX]
	Community Secret `yaml:"community"`
	Access    Access `yaml:"access"`
	Context   string `yaml:"context"`
	// InsecureRemoteWrite allows read-write on a listener other than loopback, where
	// anyone who sees one packet can write.
	InsecureRemoteWrite bool `yaml:"insecure_remote_write"`
}

// derivedLabel prefixes the label of a community without a name.
const derivedLabel = "community["

// label names community i where its string must not appear: logs, handlers.
func (c Community) label(i int) string {
	if c.Name != "" {
		return c.Name
	}
	return fmt.Sprintf("%s%d]", derivedLabel, i)
}

// User is an SNMPv3 USM user.
type User struct {
	Name           string   `yaml:"name"`
	AuthProtocol   string   `yaml:"auth_protocol"` // MD5 SHA SHA-224 SHA-256 SHA-384 SHA-512; "" = noAuth
	AuthPassphrase Secret   `yaml:"auth_passphrase"`
	PrivProtocol   string   `yaml:"priv_protocol"` // DES AES AES-192 AES-256; "" = noPriv
	PrivPassphrase Secret   `yaml:"priv_passphrase"`
	Access         Access   `yaml:"access"`
	Contexts       []string `yaml:"contexts"` // "*" all, "" merged cluster, or host names
}

// Target is a notification destination.
type Target struct {
	Address   string `yaml:"address"` // udp:HOST:PORT
	Version   string `yaml:"version"` // v2c | v3
	Community Secret `yaml:"community"`
	User      string `yaml:"user"` // a configured user, for v3
	Inform    bool   `yaml:"inform"`
}

// SetDefaults fills zero fields with their defaults.
func (c *Config) SetDefaults() {
	if c.Workers == 0 {
		c.Workers = 4 * runtime.GOMAXPROCS(0)
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.CommunityMaxMessageSize == 0 {
		c.CommunityMaxMessageSize = DefaultCommunityMaxMessageSize
	}
	if c.CommunityMaxRepetitions == 0 {
		c.CommunityMaxRepetitions = DefaultCommunityMaxRepetitions
	}
	if c.NotifyQueue == 0 {
		c.NotifyQueue = DefaultNotifyQueue
	}
	for i := range c.Notify {
		if c.Notify[i].Version == "" {
			c.Notify[i].Version = "v2c"
		}
	}
}

// Validate returns every problem at once, each naming its path and value, never a secret.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Listen) == 0 {
		add("snmp.listen: at least one address is required")
	}
	for i, l := range c.Listen {
		if _, _, err := parseListen(l); err != nil {
			add("snmp.listen[%d]: %w", i, err)
		}
	}
	if c.StateDir == "" {
		add("snmp.state_dir: required (engine ID and boots are kept there)")
	}
	if c.Workers < 0 {
		add("snmp.workers: %d is negative", c.Workers)
	}
	if c.MaxMessageSize != 0 && (c.MaxMessageSize < MinMaxMessageSize || c.MaxMessageSize > DefaultMaxMessageSize) {
		add("snmp.max_message_size: %d not in %d..%d", c.MaxMessageSize, MinMaxMessageSize, DefaultMaxMessageSize)
	}
	if c.CommunityMaxMessageSize != 0 && (c.CommunityMaxMessageSize < MinMaxMessageSize || c.CommunityMaxMessageSize > DefaultMaxMessageSize) {
		add("snmp.community_max_message_size: %d not in %d..%d", c.CommunityMaxMessageSize, MinMaxMessageSize, DefaultMaxMessageSize)
	}
	if c.CommunityMaxRepetitions < 0 {
		add("snmp.community_max_repetitions: %d is negative", c.CommunityMaxRepetitions)
	}
	if c.NotifyQueue < 0 || c.NotifyQueue > MaxNotifyQueue {
		add("snmp.notify_queue: %d not in 1..%d", c.NotifyQueue, MaxNotifyQueue)
	}
	errs = append(errs, c.validateCommunities()...)
	errs = append(errs, c.validateUsers()...)
	errs = append(errs, c.validateTargets()...)
	return errors.Join(errs...)
}

func (c Config) validateCommunities() []error {
	var errs []error
	seen := map[Secret]int{}
	names := map[string]int{}
	for i, cm := range c.Communities {
		p := fmt.Sprintf("snmp.communities[%d]", i)
		switch j, dup := names[cm.Name]; {
		case cm.Name == "":
		case len(cm.Name) > 32:
			errs = append(errs, fmt.Errorf("%s: name: longer than 32 characters", p))
		case string(cm.Community) == cm.Name:
			errs = append(errs, fmt.Errorf("%s: name: same as the community string (names are logged)", p))
		case strings.HasPrefix(cm.Name, derivedLabel):
			errs = append(errs, fmt.Errorf("%s: name: %q is reserved (%sINDEX] names communities without a name)", p, cm.Name, derivedLabel))
		case dup:
			errs = append(errs, fmt.Errorf("%s: name: duplicate of communities[%d]", p, j))
		default:
			names[cm.Name] = i
		}
		if cm.Community == "" {
			errs = append(errs, fmt.Errorf("%s: community: empty", p))
		}
		if j, dup := seen[cm.Community]; dup && cm.Community != "" {
			errs = append(errs, fmt.Errorf("%s: community: same string as communities[%d]", p, j))
		} else {
			seen[cm.Community] = i
		}
		if cm.Access != ReadOnly && cm.Access != ReadWrite {
			errs = append(errs, fmt.Errorf("%s: access: required (read-only or read-write)", p))
		}
		if cm.Context == "*" {
			errs = append(errs, fmt.Errorf(`%s: context: "*" not allowed, a community maps to one context`, p))
		}
		if cm.Access == ReadWrite && !cm.InsecureRemoteWrite {
			if i, l, ok := c.remoteListen(); ok {
				errs = append(errs, fmt.Errorf("%s: access: read-write on non-loopback snmp.listen[%d] %q needs "+
					"insecure_remote_write: true (the community travels in clear text; prefer an SNMPv3 authPriv user)", p, i, l))
			}
		}
	}
	return errs
}

// remoteListen returns the first listen address that is not loopback-only.
func (c Config) remoteListen() (int, string, bool) {
	for i, l := range c.Listen {
		_, hostport, err := parseListen(l)
		if err != nil {
			continue // reported by Validate
		}
		host, _, _ := net.SplitHostPort(hostport)
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return i, l, true
		}
	}
	return 0, "", false
}

func (c Config) validateUsers() []error {
	var errs []error
	seen := map[string]int{}
	for i, u := range c.Users {
		p := fmt.Sprintf("snmp.users[%d] %q", i, u.Name)
		add := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf(p+": "+format, args...))
		}
		if u.Name == "" {
			add("name: empty")
		} else if len(u.Name) > 32 {
			add("name: longer than 32 characters (RFC 3414)")
		}
		if j, dup := seen[u.Name]; dup {
			add("name: duplicate of users[%d]", j)
		} else {
			seen[u.Name] = i
		}
		_, aerr := authProtocol(u.AuthProtocol)
		if aerr != nil {
			add("auth_protocol: %w", aerr)
		}
		_, perr := privProtocol(u.PrivProtocol)
		if perr != nil {
			add("priv_protocol: %w", perr)
		}
		switch {
		case u.AuthProtocol == "" && u.AuthPassphrase != "":
			add("auth_passphrase: set but auth_protocol is empty")
		case u.AuthProtocol != "" && len(u.AuthPassphrase) < minPassphraseLen:
			add("auth_passphrase: shorter than %d characters (RFC 3414)", minPassphraseLen)
		}
		switch {
		case u.PrivProtocol != "" && u.AuthProtocol == "":
			add("priv_protocol: %q without auth_protocol (privacy requires authentication)", u.PrivProtocol)
		case u.PrivProtocol == "" && u.PrivPassphrase != "":
			add("priv_passphrase: set but priv_protocol is empty")
		case u.PrivProtocol != "" && len(u.PrivPassphrase) < minPassphraseLen:
			add("priv_passphrase: shorter than %d characters (RFC 3414)", minPassphraseLen)
		}
		if u.Access != ReadOnly && u.Access != ReadWrite {
			add("access: required (read-only or read-write)")
		}
		// No opt-in: without authentication the user name, sent in clear, is all it takes.
		if u.Access == ReadWrite && u.AuthProtocol == "" {
			add("access: read-write needs authentication (auth_protocol): anyone who knows the user name could write")
		}
		if len(u.Contexts) == 0 {
			add(`contexts: empty (use "*" for all, "" for the merged cluster)`)
		}
	}
	return errs
}

func (c Config) validateTargets() []error {
	var errs []error
	users := map[string]User{}
	for _, u := range c.Users {
		users[u.Name] = u
	}
	for i, t := range c.Notify {
		p := fmt.Sprintf("snmp.notify[%d] %q", i, t.Address)
		if _, err := parseTarget(t.Address); err != nil {
			errs = append(errs, fmt.Errorf("%s: address: %w", p, err))
		}
		switch t.Version {
		case "", "v2c":
			if t.Community == "" {
				errs = append(errs, fmt.Errorf("%s: community: required for v2c", p))
			}
		case "v3":
			u, ok := users[t.User]
			switch {
			case t.User == "":
				errs = append(errs, fmt.Errorf("%s: user: required for v3", p))
			case !ok:
				errs = append(errs, fmt.Errorf("%s: user: %q is not a configured user", p, t.User))
			case u.AuthProtocol == "":
				errs = append(errs, fmt.Errorf("%s: user: %q has no authentication; notifications need it", p, t.User))
			}
		default:
			errs = append(errs, fmt.Errorf("%s: version: unsupported %q (want v2c or v3)", p, t.Version))
		}
	}
	return errs
}

// parseListen splits "udp:HOST:PORT" into a Go network name and address.
func parseListen(s string) (network, addr string, err error) {
	proto, hostport, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", fmt.Errorf("missing transport in %q (want udp:HOST:PORT)", s)
	}
	switch proto {
	case "udp", "udp4", "udp6", "tcp", "tcp4", "tcp6":
	default:
		return "", "", fmt.Errorf("unsupported transport %q in %q", proto, s)
	}
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", "", fmt.Errorf("bad address in %q: %w", s, err)
	}
	// SplitHostPort takes any port text; the listener would fail only at start.
	if _, err := net.LookupPort(proto, port); err != nil {
		return "", "", fmt.Errorf("bad port in %q: %w", s, err)
	}
	return proto, hostport, nil
}

// parseTarget checks "udp:HOST:PORT" (udp: may be omitted) and returns HOST:PORT.
func parseTarget(s string) (string, error) {
	hostport := s
	if proto, rest, ok := strings.Cut(s, ":"); ok && (proto == "udp" || proto == "udp4" || proto == "udp6") {
		hostport = rest
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("want udp:HOST:PORT: %w", err)
	}
	if host == "" || port == "" {
		return "", fmt.Errorf("want udp:HOST:PORT, got %q", s)
	}
	if _, err := net.LookupPort("udp", port); err != nil {
		return "", fmt.Errorf("bad port: %w", err)
	}
	return hostport, nil
}
