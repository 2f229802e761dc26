package e2e

import (
	"fmt"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/vmgate/vmgate/hosts/hoststest"
)

// Config is what a test wants in vmgate's config file. Listen and state_dir are filled in
// by the Gateway. Secrets are plain strings here: this is test data.
type Config struct {
	SysName      string
	Communities  []Community
	Users        []User
	Hosts        []Host
	TemplatesDir string
	// ExtraListen are listen addresses besides the Gateway's own udp:127.0.0.1:PORT
	// (e.g. "tcp:127.0.0.1:PORT", "udp6:[::1]:PORT"); loopback only.
	ExtraListen []string
	// MaxMessageSize is snmp.max_message_size (0: vmgate's default).
	MaxMessageSize int
	// Notify is snmp.notify: trap and inform targets, as in the config file.
	Notify []map[string]any
	// Raw, when set, is merged on top of the generated document's top-level keys (for keys
	// the helpers do not model).
	Raw map[string]any
}

// Community is a v1/v2c community: access is "read-only" or "read-write".
type Community struct {
	Name      string `yaml:"name,omitempty"` // the label logs show
	Community string `yaml:"community"`
	Access    string `yaml:"access"`
	Context   string `yaml:"context"`
}

// User is an SNMPv3 USM user as in the config file.
type User struct {
	Name           string   `yaml:"name"`
	AuthProtocol   string   `yaml:"auth_protocol,omitempty"`
	AuthPassphrase string   `yaml:"auth_passphrase,omitempty"`
	PrivProtocol   string   `yaml:"priv_protocol,omitempty"`
	PrivPassphrase string   `yaml:"priv_passphrase,omitempty"`
	Access         string   `yaml:"access"`
	Contexts       []string `yaml:"contexts"`
}

// Host is a hypervisor; its name is an SNMPv3 context.
type Host struct {
	Name string `yaml:"name"`
	URI  string `yaml:"uri"`
}

// Cred returns the net-snmp credentials of user u, for context ctx.
func (u User) Cred(ctx string) Cred {
	return Cred{
		Version: "3", User: u.Name,
		AuthProto: u.AuthProtocol, AuthPass: u.AuthPassphrase,
		PrivProto: u.PrivProtocol, PrivPass: u.PrivPassphrase,
		Context: ctx,
	}
}

type snmpSection struct {
	Listen      []string         `yaml:"listen"`
	StateDir    string           `yaml:"state_dir"`
	SysName     string           `yaml:"sys_name,omitempty"`
	Communities []Community      `yaml:"communities,omitempty"`
	Users       []User           `yaml:"users,omitempty"`
	MaxMsgSize  int              `yaml:"max_message_size,omitempty"`
	Notify      []map[string]any `yaml:"notify,omitempty"`
}

type templatesSection struct {
	Dir string `yaml:"dir"`
}

type document struct {
	SNMP      snmpSection       `yaml:"snmp"`
	Hosts     []Host            `yaml:"hosts,omitempty"`
	Templates *templatesSection `yaml:"templates,omitempty"`
}

// render produces the YAML file vmgate reads.
func (c Config) render(listen, stateDir string) ([]byte, error) {
	d := document{
		SNMP: snmpSection{
			Listen: append([]string{listen}, c.ExtraListen...), StateDir: stateDir, SysName: c.SysName,
			Communities: c.Communities, Users: c.Users, MaxMsgSize: c.MaxMessageSize, Notify: c.Notify,
		},
		Hosts: c.Hosts,
	}
	if c.TemplatesDir != "" {
		d.Templates = &templatesSection{Dir: c.TemplatesDir}
	}
	if len(c.Raw) == 0 {
		return yaml.Marshal(d)
	}
	// Round-trip through a map so Raw can add or override top-level keys.
	b, err := yaml.Marshal(d)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range c.Raw {
		m[k] = v
	}
	return yaml.Marshal(m)
}

// probeCred picks credentials for readiness probes: the first community, else the first
// user, on the merged context.
func (c Config) probeCred() (Cred, bool) {
	for _, cm := range c.Communities {
		if cm.Context == "" {
			return V2c(cm.Community), true
		}
	}
	if len(c.Communities) > 0 {
		return V2c(c.Communities[0].Community), true
	}
	if len(c.Users) > 0 {
		return c.Users[0].Cred(""), true
	}
	return Cred{}, false
}

// TestDriverHost is a host served by libvirt's test driver through the local libvirtd:
// nodeXML (made absolute) describes its fake domains, pools and volumes. Each connection
// gets a private copy of that state.
func TestDriverHost(name, nodeXML string) (Host, error) {
	abs, err := filepath.Abs(nodeXML)
	if err != nil {
		return Host{}, err
	}
	return Host{Name: name, URI: "test+unix://" + abs}, nil
}

// LibvirtSocket is the local libvirtd's socket (deploy/testbed/libvirtd-up starts it).
const LibvirtSocket = "/var/run/libvirt/libvirt-sock"

// LibvirtMissing says why the local libvirtd cannot be reached, or nil (starting the
// test bed's daemon first when it does not answer and the tests run as root); tests
// that need it skip loudly with this reason.
func LibvirtMissing() error {
	if err := hoststest.EnsureLibvirtd(LibvirtSocket); err != nil {
		return fmt.Errorf("libvirtd not reachable at %s (run deploy/testbed/libvirtd-up): %w", LibvirtSocket, err)
	}
	return nil
}
