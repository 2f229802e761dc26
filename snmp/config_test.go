package snmp

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/vmgate/vmgate/e2e/testkit"
)

func validConfig() Config {
	c := Config{
		Listen:   []string{"udp:127.0.0.1:0", "udp6:[::1]:0", "tcp:127.0.0.1:0"},
		StateDir: "/tmp/x",
		Communities: []Community{
			{Community: "public", Access: ReadOnly},
			{Community: "private", Access: ReadWrite, Context: "kvm1"},
		},
		Users: []User{
			{Name: "ops", AuthProtocol: "SHA-256", AuthPassphrase: "authpass1", PrivProtocol: "AES",
				PrivPassphrase: "privpass1", Access: ReadWrite, Contexts: []string{"*"}},
			{Name: "noauth", Access: ReadOnly, Contexts: []string{""}},
		},
		Notify: []Target{
			{Address: "udp:127.0.0.1:162", Version: "v2c", Community: "trapcomm"},
			{Address: "udp:[::1]:162", Version: "v3", User: "ops", Inform: true},
		},
	}
	c.SetDefaults()
	return c
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string // substrings expected in the error; none = valid
	}{
		{name: "valid", mutate: func(c *Config) {}},
		{name: "no listen", mutate: func(c *Config) { c.Listen = nil }, want: []string{"snmp.listen: at least one"}},
		{name: "bad transport", mutate: func(c *Config) { c.Listen = []string{"sctp:0.0.0.0:161"} },
			want: []string{`snmp.listen[0]: unsupported transport "sctp" in "sctp:0.0.0.0:161"`}},
		{name: "bad hostport", mutate: func(c *Config) { c.Listen[1] = "udp:nonsense" }, want: []string{"snmp.listen[1]: bad address"}},
		{name: "port out of range", mutate: func(c *Config) { c.Listen[0] = "udp:127.0.0.1:99999" },
			want: []string{`snmp.listen[0]: bad port in "udp:127.0.0.1:99999"`}},
		{name: "negative port", mutate: func(c *Config) { c.Listen[2] = "tcp:127.0.0.1:-1" }, want: []string{`snmp.listen[2]: bad port`}},
		{name: "port not a number", mutate: func(c *Config) { c.Listen[0] = "udp:127.0.0.1:snmpx" }, want: []string{`snmp.listen[0]: bad port`}},
		{name: "no state dir", mutate: func(c *Config) { c.StateDir = "" }, want: []string{"snmp.state_dir"}},
		{name: "small max size", mutate: func(c *Config) { c.MaxMessageSize = 100 }, want: []string{"snmp.max_message_size: 100"}},
		{name: "short auth", mutate: func(c *Config) { c.Users[0].AuthPassphrase = "tiny" },
			want: []string{`snmp.users[0] "ops": auth_passphrase: shorter than 8 characters (RFC 3414)`}},
		{name: "short priv", mutate: func(c *Config) { c.Users[0].PrivPassphrase = "tiny" },
			want: []string{`snmp.users[0] "ops": priv_passphrase: shorter than 8`}},
		{name: "priv without auth", mutate: func(c *Config) {
			c.Users[1].PrivProtocol = "AES"
			c.Users[1].PrivPassphrase = "privpass1"
		}, want: []string{`snmp.users[1] "noauth": priv_protocol: "AES" without auth_protocol`}},
		{name: "bad auth proto", mutate: func(c *Config) { c.Users[0].AuthProtocol = "SHA-3" }, want: []string{`auth_protocol: unsupported "SHA-3"`}},
		{name: "bad priv proto", mutate: func(c *Config) { c.Users[0].PrivProtocol = "3DES" }, want: []string{`priv_protocol: unsupported "3DES"`}},
		{name: "dup user", mutate: func(c *Config) { c.Users[1].Name = "ops" }, want: []string{`snmp.users[1] "ops": name: duplicate of users[0]`}},
		{name: "dup community", mutate: func(c *Config) { c.Communities[1].Community = "public" },
			want: []string{"snmp.communities[1]: community: same string as communities[0]"}},
		{name: "community no access", mutate: func(c *Config) { c.Communities[0].Access = 0 }, want: []string{"snmp.communities[0]: access: required"}},
		{name: "user no contexts", mutate: func(c *Config) { c.Users[0].Contexts = nil }, want: []string{`snmp.users[0] "ops": contexts: empty`}},
		{name: "target unknown user", mutate: func(c *Config) { c.Notify[1].User = "ghost" }, want: []string{`user: "ghost" is not a configured user`}},
		{name: "target noauth user", mutate: func(c *Config) { c.Notify[1].User = "noauth" }, want: []string{`has no authentication`}},
		{name: "target bad version", mutate: func(c *Config) { c.Notify[0].Version = "v1" }, want: []string{`version: unsupported "v1"`}},
		{name: "target bad address", mutate: func(c *Config) { c.Notify[0].Address = "udp:host" }, want: []string{`snmp.notify[0] "udp:host": address`}},
		{name: "target port out of range", mutate: func(c *Config) { c.Notify[0].Address = "udp:127.0.0.1:70000" },
			want: []string{`snmp.notify[0] "udp:127.0.0.1:70000": address: bad port`}},
		{name: "v2c inform", mutate: func(c *Config) { c.Notify[0].Inform = true }},
		{name: "notify queue negative", mutate: func(c *Config) { c.NotifyQueue = -1 }, want: []string{"snmp.notify_queue: -1 not in 1..1048576"}},
		{name: "notify queue too large", mutate: func(c *Config) { c.NotifyQueue = MaxNotifyQueue + 1 }, want: []string{"snmp.notify_queue: 1048577 not in"}},
		{name: "read-write user without authentication", mutate: func(c *Config) { c.Users[1].Access = ReadWrite },
			want: []string{`snmp.users[1] "noauth": access: read-write needs authentication (auth_protocol)`}},
		{name: "read-write community on a non-loopback listener", mutate: func(c *Config) { c.Listen[1] = "udp6:[::]:161" },
			want: []string{`snmp.communities[1]: access: read-write on non-loopback snmp.listen[1] "udp6:[::]:161" needs insecure_remote_write: true`}},
		{name: "read-write community on a named listener", mutate: func(c *Config) { c.Listen[2] = "tcp:gw.example.net:161" },
			want: []string{`non-loopback snmp.listen[2] "tcp:gw.example.net:161"`}},
		{name: "read-write community remote by choice", mutate: func(c *Config) {
			c.Listen[0] = "udp:0.0.0.0:161"
			c.Communities[1].InsecureRemoteWrite = true
		}},
		{name: "read-write community on localhost", mutate: func(c *Config) { c.Listen = []string{"udp:localhost:161"} }},
		{name: "read-only community on any address", mutate: func(c *Config) {
			c.Listen = []string{"udp:0.0.0.0:161"}
			c.Communities[1].Access = ReadOnly
		}},
		{name: "many at once", mutate: func(c *Config) {
			c.StateDir = ""
			c.Users[0].AuthPassphrase = "x"
		}, want: []string{"snmp.state_dir", "auth_passphrase"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.Validate()
			if !testkit.WantErrs(t, "Validate()", err, tt.want) {
				return
			}
			for _, secret := range []string{"authpass1", "privpass1", "private", "trapcomm", "tiny"} {
				if strings.Contains(err.Error(), secret) && !strings.Contains(strings.Join(tt.want, " "), secret) {
					t.Errorf("Validate() leaks secret %q: %q", secret, err)
				}
			}
		})
	}
}

func TestConfigYAML(t *testing.T) {
	in := `
listen: ["udp:127.0.0.1:1161"]
state_dir: /var/lib/vmgate
communities:
  - {community: public, access: read-only}
users:
  - {name: ops, auth_protocol: SHA, auth_passphrase: authpass1, access: read-write, contexts: ["*"]}
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(in))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if c.Communities[0].Access != ReadOnly || c.Users[0].Access != ReadWrite {
		t.Fatalf("access decoded wrong: %+v", c)
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"public", "authpass1"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("marshalled config leaks %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(string(out), "read-write") {
		t.Errorf("access not marshalled as text:\n%s", out)
	}
	var a Access
	if err := yaml.Unmarshal([]byte("admin"), &a); err == nil {
		t.Error("unknown access accepted")
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	c := validConfig()
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("cfg", "community", c.Communities[1].Community, "users", c.Users)
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), logged.String(), string(j)} {
		for _, secret := range []string{"authpass1", "privpass1", "private", "trapcomm"} {
			if strings.Contains(out, secret) {
				t.Errorf("secret %q printed in %s", secret, out)
			}
		}
	}
}
