package gateway

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/snmp"
)

const exampleConfig = "../config.example.yaml"

// minimalYAML is the smallest valid config; tests append to it or replace parts.
const minimalYAML = `
snmp:
  listen: ["udp:127.0.0.1:0"]
  state_dir: /tmp/vmgate-state
hosts:
  - name: kvm-1
    uri: "qemu+tls://kvm-1.example.net/system"
`

// TestPackageConfig: the Debian package's /etc/vmgate/vmgate.yaml loads, listens on
// loopback only, has no community (v1/v2c off), one read-only placeholder user, no
// host yet and no HTTP server.
func TestPackageConfig(t *testing.T) {
	data, err := os.ReadFile("../deploy/debian/vmgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		t.Fatalf("deploy/debian/vmgate.yaml:\n%v", err)
	}
	for _, l := range cfg.SNMP.Listen {
		if !strings.Contains(l, ":127.0.0.1:") && !strings.Contains(l, ":[::1]:") {
			t.Errorf("listens on %q: the package's config listens on loopback only", l)
		}
	}
	if len(cfg.SNMP.Communities) != 0 || len(cfg.SNMP.Users) != 1 || cfg.SNMP.Users[0].Access != snmp.ReadOnly ||
		len(cfg.Hosts) != 0 || cfg.HTTP.Enabled() || cfg.SNMP.StateDir != "/var/lib/vmgate" {
		t.Errorf("package config: %d communities, users %+v, %d hosts, http %q, state_dir %q",
			len(cfg.SNMP.Communities), cfg.SNMP.Users, len(cfg.Hosts), cfg.HTTP.Listen, cfg.SNMP.StateDir)
	}
}

// TestReplicaExample: deploy/ha/vmgate-replica.yaml, the HA example docs/ha.md points
// to, loads and uses the etcd registry, with a read-only user for the health check.
func TestReplicaExample(t *testing.T) {
	data, err := os.ReadFile("../deploy/ha/vmgate-replica.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		t.Fatalf("deploy/ha/vmgate-replica.yaml does not load:\n%v", err)
	}
	if cfg.Registry.Backend != BackendEtcd || cfg.Replica.Name == "" {
		t.Errorf("the replica example has registry %q, replica %q", cfg.Registry.Backend, cfg.Replica.Name)
	}
	check := false
	for _, u := range cfg.SNMP.Users {
		check = check || u.Name == "vmgate-check" && u.Access == snmp.ReadOnly
	}
	if !check {
		t.Error("no read-only vmgate-check user for deploy/ha/vmgate-check")
	}
}

// TestRemoteHostsExamples: every yaml block of docs/remote-hosts.md is a hosts list
// that a config file can hold as written.
func TestRemoteHostsExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/remote-hosts.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```yaml\n")[1:]
	if len(blocks) == 0 {
		t.Fatal("no yaml block in docs/remote-hosts.md")
	}
	for i, b := range blocks {
		b, _, _ = strings.Cut(b, "```")
		snmpPart, _, _ := strings.Cut(minimalYAML, "hosts:")
		if _, err := ParseConfig([]byte(snmpPart + b)); err != nil {
			t.Errorf("yaml block %d of docs/remote-hosts.md:\n%s\n%v", i+1, b, err)
		}
	}
}

func TestExampleConfig(t *testing.T) {
	cfg, err := LoadConfig(exampleConfig)
	if err != nil {
		t.Fatalf("config.example.yaml does not load:\n%v", err)
	}
	if len(cfg.Hosts) < 4 || len(cfg.SNMP.Users) < 2 || len(cfg.SNMP.Communities) < 1 || len(cfg.SNMP.Notify) < 2 {
		t.Errorf("example lost its samples: %d hosts, %d users, %d communities, %d notify",
			len(cfg.Hosts), len(cfg.SNMP.Users), len(cfg.SNMP.Communities), len(cfg.SNMP.Notify))
	}
	transports := map[string]bool{}
	for _, h := range cfg.Hosts {
		u, err := hosts.ParseURI(h.URI)
		if err != nil {
			t.Fatal(err)
		}
		transports[u.Transport] = true
	}
	for _, tr := range []string{hosts.TransportUnix, hosts.TransportTCP, hosts.TransportTLS, hosts.TransportSSH} {
		if !transports[tr] {
			t.Errorf("example has no %s host", tr)
		}
	}
}

// TestExampleHasEveryKey walks the Config type and checks that every YAML key it can
// take appears in config.example.yaml, so a key added to snmp.Config or hosts.Config
// without an example fails here.
func TestExampleHasEveryKey(t *testing.T) {
	data, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	yamlKeys(&doc, "", have)
	want := map[string]bool{}
	typeKeys(reflect.TypeFor[Config](), "", want)
	var missing []string
	for k := range want {
		if !have[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("config.example.yaml lacks keys (add them, commented): %s", strings.Join(missing, ", "))
	}
}

// yamlKeys collects dotted key paths of a YAML tree; sequences add "[]".
func yamlKeys(n *yaml.Node, prefix string, out map[string]bool) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			yamlKeys(c, prefix, out)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			yamlKeys(c, prefix+"[]", out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := prefix + "." + n.Content[i].Value
			out[k] = true
			yamlKeys(n.Content[i+1], k, out)
		}
	}
}

// typeKeys collects the dotted key paths a type decodes, as yamlKeys names them.
func typeKeys(t reflect.Type, prefix string, out map[string]bool) {
	switch t.Kind() {
	case reflect.Slice:
		typeKeys(t.Elem(), prefix+"[]", out)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" || name == "" {
				continue
			}
			k := prefix + "." + name
			out[k] = true
			typeKeys(f.Type, k, out)
		}
	}
}

func TestParseConfigStrict(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error, in order of appearance not required
	}{
		{"empty", "", []string{"empty: no YAML document"}},
		{"only comments", "# nothing\n\n", []string{"empty: no YAML document"}},
		{"unknown top key", minimalYAML + "extra: 1\n", []string{"line 8: field extra not found"}},
		{"unknown snmp key", strings.Replace(minimalYAML, "state_dir:", "statedir:", 1), []string{"line 4: field statedir not found"}},
		{"unknown host key", minimalYAML + "    tls: {cafile: x}\n", []string{"line 8: field cafile not found"}},
		{"unknown templates key", minimalYAML + "templates: {path: /x}\n", []string{"line 8: field path not found"}},
		{"duplicate key", minimalYAML + "hosts: []\n", []string{`mapping key "hosts" already defined at line 5`}},
		{"wrong type", strings.Replace(minimalYAML, `["udp:127.0.0.1:0"]`, `{a: b}`, 1), []string{"line 3: cannot unmarshal !!map into []string"}},
		{"bad duration", minimalYAML + "    call_timeout: soon\n", []string{"line 8: cannot unmarshal !!str `soon` into time.Duration"}},
		{"bad access", strings.Replace(minimalYAML, "hosts:", "  communities: [{community: publicxx, access: all}]\nhosts:", 1), []string{`unknown access "all"`}},
		{"syntax", "snmp:\n  listen: [\n", []string{"yaml syntax:"}},
		{"tab indent", "snmp:\n\tlisten: []\n", []string{"yaml syntax:", "line 2"}},
		{"two documents", minimalYAML + "---\nsnmp: {}\n", []string{"more than one YAML document"}},
		{"not a mapping", "- a\n- b\n", []string{"cannot unmarshal !!seq into gateway.Config"}},
		{"several unknown keys at once", minimalYAML + "foo: 1\nbar: 2\n", []string{"line 8: field foo", "line 9: field bar"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.yaml))
			if err == nil {
				t.Fatal("ParseConfig succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := ParseConfig([]byte(minimalYAML))
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.Hosts[0]
	for _, d := range []struct {
		name      string
		got, want time.Duration
	}{
		{"connect_timeout", h.ConnectTimeout, hosts.DefaultConnectTimeout},
		{"call_timeout", h.CallTimeout, hosts.DefaultCallTimeout},
		{"keepalive_interval", h.KeepaliveInterval, hosts.DefaultKeepaliveInterval},
		{"keepalive_timeout", h.KeepaliveTimeout, hosts.DefaultKeepaliveTimeout},
		{"stats_interval", h.StatsInterval, hosts.DefaultStatsInterval},
		{"storage_interval", h.StorageInterval, hosts.DefaultStorageInterval},
		{"address_interval", h.AddressInterval, hosts.DefaultAddressInterval},
		{"backoff_max", h.BackoffMax, hosts.DefaultBackoffMax},
	} {
		if d.got != d.want {
			t.Errorf("hosts[0].%s = %s, want %s", d.name, d.got, d.want)
		}
	}
	if cfg.SNMP.MaxMessageSize != snmp.DefaultMaxMessageSize {
		t.Errorf("snmp.max_message_size = %d, want %d", cfg.SNMP.MaxMessageSize, snmp.DefaultMaxMessageSize)
	}
	if cfg.SNMP.Workers <= 0 {
		t.Errorf("snmp.workers = %d, want > 0", cfg.SNMP.Workers)
	}
	if len(cfg.SNMP.Communities) != 0 {
		t.Errorf("communities default to %d entries, want none", len(cfg.SNMP.Communities))
	}
	// An explicit value survives the defaults.
	cfg, err = ParseConfig([]byte(minimalYAML + "    call_timeout: 2s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Hosts[0].CallTimeout; got != 2*time.Second {
		t.Errorf("explicit call_timeout = %s, want 2s", got)
	}
}

// validConfig is a config with one of everything, valid; tests break one part.
func validConfig(t *testing.T) *Config {
	t.Helper()
	cfg, err := ParseConfig([]byte(`
snmp:
  listen: ["udp:127.0.0.1:0"]
  state_dir: /tmp/vmgate-state
  communities:
    - {community: public-secret, access: read-only, context: ""}
    - {community: kvm-secret, access: read-only, context: kvm-1}
  users:
    - {name: ops, auth_protocol: SHA-256, auth_passphrase: auth-secret-1, priv_protocol: AES,
       priv_passphrase: priv-secret-1, access: read-write, contexts: ["*"]}
    - {name: mon, auth_protocol: SHA, auth_passphrase: auth-secret-2, access: read-only,
       contexts: ["", kvm-1]}
hosts:
  - {name: kvm-1, uri: "qemu+tls://kvm-1.example.net/system"}
  - {name: kvm-2, uri: "qemu+ssh://root@kvm-2.example.net/system", ssh: {key_file: /etc/vmgate/id}}
templates: {dir: /etc/vmgate/templates}
`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string // one line each; none = valid
	}{
		{"valid", func(c *Config) {}, nil},
		{"bad transport", func(c *Config) { c.Hosts[1].URI = "qemu+foo://h/system" },
			[]string{`hosts[1] "kvm-2": uri: unsupported transport "foo"`}},
		{"bad host name", func(c *Config) { c.Hosts[0].Name = "kvm 1" },
			[]string{`hosts[0] "kvm 1": name: "kvm 1" must match`}},
		{"empty host name", func(c *Config) { c.Hosts[0].Name = "" },
			[]string{`hosts[0] "": name: "" must match`}},
		{"duplicate host", func(c *Config) { c.Hosts[1].Name = "kvm-1" },
			[]string{`hosts[1] "kvm-1": name: duplicate of hosts[0]`}},
		{"user context unknown", func(c *Config) { c.SNMP.Users[1].Contexts = []string{"", "kvm-9"} },
			[]string{`snmp.users[1] "mon": contexts[1]: "kvm-9" is not a configured host`}},
		{"community context unknown", func(c *Config) { c.SNMP.Communities[1].Context = "kvm-9" },
			[]string{`snmp.communities[1]: context: "kvm-9" is not a configured host`}},
		{"context of a removed host", func(c *Config) { c.Hosts = c.Hosts[1:] },
			[]string{`snmp.communities[1]: context: "kvm-1"`, `snmp.users[1] "mon": contexts[1]: "kvm-1"`}},
		{"short passphrase", func(c *Config) { c.SNMP.Users[0].AuthPassphrase = "short7!" },
			[]string{`snmp.users[0] "ops": auth_passphrase: shorter than 8 characters`}},
		{"relative templates", func(c *Config) { c.Templates.Dir = "templates" },
			[]string{`templates.dir: "templates" must be an absolute path`}},
		{"no listen", func(c *Config) { c.SNMP.Listen = nil }, []string{"snmp.listen: at least one"}},
		{"tls options on ssh host", func(c *Config) { c.Hosts[1].TLS.CAFile = "/ca.pem" },
			[]string{`hosts[1] "kvm-2": tls: set, but the uri transport is ssh`}},
		{"every problem at once", func(c *Config) {
			c.SNMP.StateDir = ""
			c.Hosts[0].URI = "nope://x"
			c.Hosts[1].Name = "kvm-1"
			c.Templates.Dir = "rel"
		}, []string{"snmp.state_dir", `hosts[0] "kvm-1": uri:`, `hosts[1] "kvm-1": name: duplicate`, "templates.dir"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig(t)
			tt.mutate(c)
			err := c.Validate()
			if !testkit.WantErrs(t, "Validate()", err, tt.want) {
				return
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) < len(tt.want) {
				t.Errorf("got %d problems, want at least %d:\n%v", len(lines), len(tt.want), err)
			}
			for _, s := range []string{"auth-secret", "priv-secret", "public-secret", "kvm-secret", "short7!"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error reveals secret %q:\n%v", s, err)
				}
			}
		})
	}
}

func TestSecretsRedacted(t *testing.T) {
	cfg := validConfig(t)
	secrets := []string{"auth-secret-1", "priv-secret-1", "auth-secret-2", "public-secret", "kvm-secret"}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logs, jsonLogs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	logger.Info("users", "user", cfg.SNMP.Users[0].AuthPassphrase, "community", cfg.SNMP.Communities[0].Community)
	logger.Info("whole", "config", cfg, "value", *cfg)
	slog.New(slog.NewJSONHandler(&jsonLogs, nil)).Info("whole", "config", cfg, "value", *cfg)
	renders := map[string]string{
		"yaml":     string(out),
		"%v":       fmt.Sprintf("%v", cfg),
		"%+v":      fmt.Sprintf("%+v", cfg.SNMP),
		"slog":     logs.String(),
		"json":     jsonLogs.String(),
		"Validate": fmt.Sprint(cfg.Validate()),
	}
	if !strings.Contains(string(out), "<secret>") {
		t.Errorf("marshalled config has no <secret>:\n%s", out)
	}
	for name, r := range renders {
		for _, s := range secrets {
			if strings.Contains(r, s) {
				t.Errorf("%s rendering reveals %q:\n%s", name, s, r)
			}
		}
	}
}

func TestWarnings(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
snmp:
  listen: ["udp:127.0.0.1:0"]
  state_dir: /tmp/s
  communities: [{community: private1, access: read-write, context: ""}]
  users: [{name: u, auth_protocol: SHA, auth_passphrase: 12345678, access: read-write, contexts: ["*"]}]
hosts:
  - {name: a, uri: "qemu+tls://a/system", tls: {insecure_skip_verify: true}}
  - {name: b, uri: "qemu+ssh://b/system", ssh: {insecure_skip_host_key_check: true}}
  - {name: c, uri: "qemu+ssh://b/system"}
`))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(cfg.Warnings, "\n")
	for _, w := range []string{
		"snmp.communities[0]: read-write community",
		`snmp.users[0] "u": read-write without privacy`,
		`hosts[0] "a": tls.insecure_skip_verify`,
		`hosts[1] "b": ssh.insecure_skip_host_key_check`,
		`hosts[2] "c": uri: same as hosts[1]`,
	} {
		if !strings.Contains(all, w) {
			t.Errorf("warnings lack %q:\n%s", w, all)
		}
	}
}

// TestWarningsInsecureURI: no_verify=1 needs tls.insecure_skip_verify (hosts refuses it
// alone); with both, the warning names both, so the URI option is never silent.
func TestWarningsInsecureURI(t *testing.T) {
	cfg, err := ParseConfig([]byte(minimalYAML + `
  - {name: d, uri: "qemu+tls://d/system?no_verify=1", tls: {insecure_skip_verify: true}}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := `hosts[1] "d": tls.insecure_skip_verify and no_verify=1 in the uri: the server certificate is not checked`
	if all := strings.Join(cfg.Warnings, "\n"); !strings.Contains(all, want) {
		t.Errorf("warnings lack %q:\n%s", want, all)
	}
	_, err = ParseConfig([]byte(minimalYAML + `
  - {name: d, uri: "qemu+tls://d/system?no_verify=1"}
`))
	if err == nil || !strings.Contains(err.Error(), `hosts[1] "d": uri: no_verify=1 turns the server certificate check off: set tls.insecure_skip_verify: true`) {
		t.Errorf("no_verify=1 alone: err = %v", err)
	}
}

// TestWarningsNotifyUser: an inform receiver holds the keys of the user it is sent as;
// a read-write user there lets whoever runs the receiver SET VMs.
func TestWarningsNotifyUser(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
snmp:
  listen: ["udp:127.0.0.1:0"]
  state_dir: /tmp/s
  users:
    - {name: admin, auth_protocol: SHA, auth_passphrase: 12345678, priv_protocol: AES, priv_passphrase: 12345678, access: read-write, contexts: ["*"]}
    - {name: traps, auth_protocol: SHA, auth_passphrase: 12345678, priv_protocol: AES, priv_passphrase: 12345678, access: read-only, contexts: [""]}
  notify:
    - {address: "udp:192.0.2.1:162", version: v3, user: admin, inform: true}
    - {address: "udp:192.0.2.2:162", version: v3, user: traps, inform: true}
    - {address: "udp:192.0.2.3:162", community: rw-community}
  communities: [{community: rw-community, access: read-write, context: ""}]
`))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(cfg.Warnings, "\n")
	want := `snmp.notify[0] "udp:192.0.2.1:162": user: "admin" is read-write`
	if !strings.Contains(all, want) {
		t.Errorf("warnings lack %q:\n%s", want, all)
	}
	want = `snmp.notify[2] "udp:192.0.2.3:162": community: same as snmp.communities[0] (read-write)`
	if !strings.Contains(all, want) {
		t.Errorf("warnings lack %q:\n%s", want, all)
	}
	if strings.Contains(all, "rw-community") {
		t.Errorf("a warning shows the community:\n%s", all)
	}
	if strings.Contains(all, "snmp.notify[1]") {
		t.Errorf("a read-only notify user is warned about:\n%s", all)
	}
}

// TestExampleConfigSafe: what people copy is safe by default: a loopback listener (the
// operator puts the management address), and no warning but the ones every example
// host and community must show.
func TestExampleConfigSafe(t *testing.T) {
	cfg, err := LoadConfig(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range cfg.SNMP.Listen {
		_, hostport, _ := strings.Cut(l, ":")
		host, _, err := net.SplitHostPort(hostport)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			t.Errorf("snmp.listen[%d] %q: the example must listen on loopback", i, l)
		}
	}
	for _, w := range cfg.Warnings {
		if strings.HasPrefix(w, "snmp.notify") {
			t.Errorf("example config: %s", w)
		}
	}
}
