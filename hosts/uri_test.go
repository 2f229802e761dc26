package hosts

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		driver    string
		transport string
		driverURI string
		addr      string
		socket    string
		user      string
		wantErr   string
	}{
		{name: "local system", in: "qemu:///system", driver: "qemu", transport: "unix",
			driverURI: "qemu:///system", socket: DefaultSystemSocket},
		{name: "unix explicit", in: "qemu+unix:///system", driver: "qemu", transport: "unix",
			driverURI: "qemu:///system", socket: DefaultSystemSocket},
		{name: "unix socket option", in: "qemu+unix:///system?socket=/tmp/x/sock", transport: "unix",
			driverURI: "qemu:///system", socket: "/tmp/x/sock"},
		{name: "tcp default port", in: "qemu+tcp://kvm1/system", transport: "tcp",
			driverURI: "qemu:///system", addr: "kvm1:16509"},
		{name: "tcp port", in: "qemu+tcp://127.0.0.1:1234/system", transport: "tcp", addr: "127.0.0.1:1234"},
		{name: "tls default", in: "qemu+tls://kvm1.example.net/system", transport: "tls", addr: "kvm1.example.net:16514"},
		{name: "no transport with host is tls", in: "qemu://kvm1/system", transport: "tls", addr: "kvm1:16514"},
		{name: "tls ipv6", in: "qemu+tls://[::1]:9/system", transport: "tls", addr: "[::1]:9"},
		{name: "ssh", in: "qemu+ssh://root@kvm1:2222/system", transport: "ssh", user: "root",
			addr: "kvm1:2222", socket: DefaultSystemSocket, driverURI: "qemu:///system"},
		{name: "xen ssh", in: "xen+ssh://root@xen1/system", driver: "xen", transport: "ssh",
			addr: "xen1:22", driverURI: "xen:///system"},
		{name: "test file", in: "test+unix:///abs/node.xml", driver: "test", transport: "unix",
			driverURI: "test:///abs/node.xml"},
		{name: "test default", in: "test:///default", driverURI: "test:///default"},
		{name: "test over tcp", in: "test+tcp://127.0.0.1/abs/n.xml", driverURI: "test:///abs/n.xml", addr: "127.0.0.1:16509"},
		{name: "name override", in: "qemu+tcp://h/system?name=qemu:///session", driverURI: "qemu:///session"},
		{name: "bad transport", in: "qemu+foo://h/system", wantErr: `unsupported transport "foo" in "qemu+foo://h/system"`},
		{name: "bad driver", in: "foo://h/system", wantErr: `unsupported driver "foo"`},
		{name: "empty", in: "", wantErr: "empty"},
		{name: "no scheme", in: "kvm1", wantErr: "not of the form"},
		{name: "password", in: "qemu+ssh://root:secret@h/system", wantErr: "passwords in URIs"},
		{name: "unix with host", in: "qemu+unix://h/system", wantErr: "takes no host"},
		{name: "tcp without host", in: "qemu+tcp:///system", wantErr: "needs a host"},
		{name: "bad port", in: "qemu+tcp://h:99999/system", wantErr: `invalid port "99999"`},
		{name: "qemu path", in: "qemu:///foo", wantErr: `path must be /system or /session, got "/foo"`},
		{name: "test relative", in: "test:///", wantErr: "test driver needs"},
		{name: "unknown option", in: "qemu:///system?bogus=1", wantErr: `unsupported option "bogus"`},
		{name: "no_verify ssh", in: "qemu+ssh://h/system?no_verify=1", wantErr: "insecure_skip_host_key_check"},
		{name: "no_verify junk", in: "qemu+tls://h/system?no_verify=yes", wantErr: "want 0 or 1"},
		{name: "mode direct", in: "qemu:///system?mode=direct", wantErr: "mode="},
		{name: "relative socket", in: "qemu:///system?socket=x", wantErr: "absolute path"},
		{name: "pkipath on tcp", in: "qemu+tcp://h/system?pkipath=/x", wantErr: "pkipath only applies to tls"},
		// libvirt options that weaken a check are refused, not ignored: host keys are
		// checked by vmgate's own SSH client, only ssh.insecure_skip_host_key_check
		// turns that off; no ssh binary, no agent-less password, no cipher choice.
		{name: "known_hosts_verify", in: "qemu+ssh://h/system?known_hosts_verify=ignore", wantErr: `unsupported option "known_hosts_verify"`},
		{name: "sshauth", in: "qemu+ssh://h/system?sshauth=password", wantErr: `unsupported option "sshauth"`},
		{name: "command", in: "qemu+ssh://h/system?command=/tmp/ssh", wantErr: `unsupported option "command"`},
		{name: "netcat", in: "qemu+ssh://h/system?netcat=/tmp/nc", wantErr: `unsupported option "netcat"`},
		{name: "proxy", in: "qemu+ssh://h/system?proxy=netcat", wantErr: `unsupported option "proxy"`},
		{name: "tls_priority", in: "qemu+tls://h/system?tls_priority=NORMAL:+VERS-SSL3.0", wantErr: `unsupported option "tls_priority"`},
		{name: "no_tty is harmless", in: "qemu+ssh://h/system?no_tty=1", transport: "ssh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseURI(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseURI(%q) err = %v, want containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURI(%q): %v", tt.in, err)
			}
			check := func(what, got, want string) {
				t.Helper()
				if want != "" && got != want {
					t.Errorf("%s = %q, want %q", what, got, want)
				}
			}
			check("driver", u.Driver, tt.driver)
			check("transport", u.Transport, tt.transport)
			check("DriverURI", u.DriverURI(), tt.driverURI)
			check("user", u.User, tt.user)
			if tt.addr != "" {
				check("Address", u.Address(), tt.addr)
			}
			check("SocketPath", u.SocketPath(), tt.socket)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	base := func() Config {
		c := Config{Name: "kvm-07", URI: "qemu+tls://kvm7/system"}
		c.SetDefaults()
		return c
	}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr []string
	}{
		{name: "ok", mod: func(*Config) {}},
		{name: "bad name", mod: func(c *Config) { c.Name = "kvm 07" }, wantErr: []string{`name: "kvm 07"`}},
		{name: "long name", mod: func(c *Config) { c.Name = strings.Repeat("a", 33) }, wantErr: []string{"name:"}},
		{name: "bad transport", mod: func(c *Config) { c.URI = "foo://h/system" }, wantErr: []string{`uri: unsupported driver "foo"`}},
		{name: "several at once", mod: func(c *Config) { c.Name = ""; c.URI = "qemu+foo://h/system"; c.CallTimeout = -1 },
			wantErr: []string{`name: ""`, `uri: unsupported transport "foo" in "qemu+foo://h/system"`, "call_timeout: -1ns"}},
		{name: "ssh on tls", mod: func(c *Config) { c.SSH.UseAgent = true }, wantErr: []string{"ssh: set, but the uri transport is tls"}},
		{name: "tls on ssh", mod: func(c *Config) { c.URI = "qemu+ssh://h/system"; c.TLS.CAFile = "/x" }, wantErr: []string{"tls: set"}},
		{name: "cert without key", mod: func(c *Config) { c.TLS.CertFile = "/c.pem" }, wantErr: []string{"must be set together"}},
		{name: "ssh session without socket", mod: func(c *Config) { c.URI = "qemu+ssh://h/session" }, wantErr: []string{"remote session daemon"}},
		{name: "ssh session with socket", mod: func(c *Config) { c.URI = "qemu+ssh://h/session"; c.SSH.Socket = "/run/user/1000/libvirt/libvirt-sock" }},
		// no_verify=1 alone would turn the certificate check off with no key naming it.
		{name: "no_verify alone", mod: func(c *Config) { c.URI = "qemu+tls://kvm7/system?no_verify=1" },
			wantErr: []string{"uri: no_verify=1 turns the server certificate check off: set tls.insecure_skip_verify: true to mean it"}},
		{name: "no_verify with the key", mod: func(c *Config) { c.URI = "qemu+tls://kvm7/system?no_verify=1"; c.TLS.InsecureSkipVerify = true }},
		{name: "no_verify=0", mod: func(c *Config) { c.URI = "qemu+tls://kvm7/system?no_verify=0" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.mod(&c)
			err := c.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: %v\nwant containing %q", err, w)
				}
			}
		})
	}
}

func TestSetDefaults(t *testing.T) {
	c := Config{CallTimeout: time.Second}
	c.SetDefaults()
	if c.CallTimeout != time.Second || c.ConnectTimeout != DefaultConnectTimeout ||
		c.KeepaliveTimeout != DefaultKeepaliveTimeout || c.BackoffMax != DefaultBackoffMax {
		t.Fatalf("SetDefaults: %+v", c)
	}
}

func TestConfigYAML(t *testing.T) {
	doc := `
name: kvm-07
uri: qemu+ssh://root@kvm7/system
ssh:
  key_file: /etc/vmgate/id_ed25519
  known_hosts: /etc/vmgate/known_hosts
  use_agent: false
  socket: /var/run/libvirt/libvirt-sock
connect_timeout: 5s
call_timeout: 1m
keepalive_interval: 2s
keepalive_timeout: 6s
stats_interval: 15s
backoff_max: 2m
`
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	want := Config{Name: "kvm-07", URI: "qemu+ssh://root@kvm7/system",
		SSH:            SSHConfig{KeyFile: "/etc/vmgate/id_ed25519", KnownHosts: "/etc/vmgate/known_hosts", Socket: "/var/run/libvirt/libvirt-sock"},
		ConnectTimeout: 5 * time.Second, CallTimeout: time.Minute, KeepaliveInterval: 2 * time.Second,
		KeepaliveTimeout: 6 * time.Second, StatsInterval: 15 * time.Second, BackoffMax: 2 * time.Minute}
	if c != want {
		t.Fatalf("decoded %+v\nwant    %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestURIErrorsHideSecrets: a URI that holds a password (user:pass@, or an option
// vmgate does not know, such as password=) is refused, and the message, which reaches
// --check and the reload log, names the problem without the secret, in any encoding.
func TestURIErrorsHideSecrets(t *testing.T) {
	const secret = "s3cret-Pw"
	tests := []struct {
		name string
		in   string
		want string // the message still says what is wrong
	}{
		{"userinfo", "qemu+ssh://root:" + secret + "@h/system", "passwords in URIs"},
		{"userinfo and bad port", "qemu+ssh://root:" + secret + "@h:x/system", `invalid port ":x"`},
		{"userinfo with a space", "qemu+ssh://root:" + secret + " x@h/system", "invalid userinfo"},
		{"escaped userinfo", "qemu+ssh://root:" + url.PathEscape(secret+"/") + "@h/system", "passwords in URIs"},
		{"password option", "qemu+tls://h/system?password=" + secret, `unsupported option "password"`},
		{"token and other errors", "qemu+unix://h/system?token=" + secret + "&socket=x", `unsupported option "token"`},
		{"option without value", "qemu+tcp://h/system?" + secret, `unsupported option`},
		{"fragment", "qemu+tcp://h:99999/system#" + secret, `invalid port "99999"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseURI(tt.in)
			if err == nil {
				t.Fatalf("ParseURI(%q): nil error", tt.in)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q lacks %q", msg, tt.want)
			}
			for _, enc := range []string{secret, url.QueryEscape(secret), strings.ToLower(secret)} {
				if strings.Contains(strings.ToLower(msg), strings.ToLower(enc)) {
					t.Errorf("message reveals the secret: %s", msg)
					break
				}
			}
		})
	}
}

// TestRedactedURI: what messages print of a URI: no password, no value of an option
// vmgate does not know; the rest as written, so the message still points at the host.
func TestRedactedURI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"qemu+ssh://root@h/system?keyfile=/k&no_verify=0", "qemu+ssh://root@h/system?keyfile=/k&no_verify=0"},
		{"qemu+ssh://root:pw@h/system", "qemu+ssh://root:xxxxx@h/system"},
		{"qemu+tls://h/system?password=pw&pkipath=/p", "qemu+tls://h/system?password=xxxxx&pkipath=/p"},
		{"qemu+tls://h/system?debug", "qemu+tls://h/system?debug"},
		{"qemu+tls://h/system?S3cret-1&x%zz=1", "qemu+tls://h/system?xxxxx&xxxxx"},
		{"qemu+ssh:root:pw@h", "qemu+ssh:xxxxx"},
		{"qemu:///system#pw", "qemu:///system#xxxxx"},
	}
	for _, tt := range tests {
		pu, err := url.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := redactURI(pu); got != tt.want {
			t.Errorf("redactURI(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPublicURI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"qemu+ssh://root:pw@kvm1/system?keyfile=/k", "qemu+ssh://root:xxxxx@kvm1/system"},
		{"qemu+tls://h/system?password=pw&pkipath=/p", "qemu+tls://h/system"},
		{"qemu:///system#pw", "qemu:///system#xxxxx"},
		{"test:///default", "test:///default"},
		{"qemu+ssh:root:pw@h", "qemu+ssh:xxxxx"},
		{"qemu+ssh://root:pw@h:x/system", ""},
	}
	for _, tt := range tests {
		if got := PublicURI(tt.in); got != tt.want {
			t.Errorf("PublicURI(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
