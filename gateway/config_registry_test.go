package gateway

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestRegistryConfig(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string   // appended to minimalYAML
		errs     []string // substrings of the error; none: valid
		warnings []string // substrings of the warnings
		check    func(t *testing.T, c *Config)
	}{
		{name: "default is file", yaml: "", check: func(t *testing.T, c *Config) {
			t.Helper()
			if c.Registry.Backend != BackendFile || c.Registry.Prefix != "" || c.Replica.Name == "" {
				t.Errorf("defaults: %+v, replica %q", c.Registry, c.Replica.Name)
			}
		}},
		{name: "etcd defaults", yaml: "registry: {backend: etcd, endpoints: [127.0.0.1:2379]}\nreplica: {name: gw-a}\n",
			check: func(t *testing.T, c *Config) {
				t.Helper()
				r := c.Registry
				if r.Prefix != DefaultEtcdPrefix || r.DialTimeout != DefaultEtcdDialTimeout || r.Timeout != DefaultEtcdTimeout {
					t.Errorf("etcd defaults: %+v", r)
				}
				e := c.EtcdConfig()
				if e.Replica != "gw-a" || e.Endpoints[0] != "127.0.0.1:2379" || e.Prefix != DefaultEtcdPrefix {
					t.Errorf("EtcdConfig: %+v", e)
				}
			}},
		{name: "etcd full", yaml: `registry:
  backend: etcd
  endpoints: ["https://e1:2379", "https://[2001:db8::1]:2379"]
  prefix: /site-1/vmgate/
  dial_timeout: 3s
  timeout: 1s
  tls: {ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem}
  username: vmgate
  password: etcd-secret-pw
`, check: func(t *testing.T, c *Config) {
			t.Helper()
			if c.Registry.Timeout != time.Second || c.EtcdConfig().Password != "etcd-secret-pw" {
				t.Errorf("explicit values lost: %+v", c.Registry)
			}
		}},
		{name: "unknown backend", yaml: "registry: {backend: consul}\n",
			errs: []string{`registry.backend: "consul": want file or etcd`}},
		{name: "etcd without endpoints", yaml: "registry: {backend: etcd}\n",
			errs: []string{"registry.endpoints: required with backend etcd"}},
		{name: "bad endpoints", yaml: "registry: {backend: etcd, endpoints: [\"ftp://e:1\", e1, \"http://e:1/x\", \"http://:1\"]}\n",
			errs: []string{`registry.endpoints[0]: "ftp://e:1": scheme "ftp"`, `registry.endpoints[1]: "e1": want host:port`,
				`registry.endpoints[2]: "http://e:1/x": want scheme://host:port only`, `registry.endpoints[3]: "http://:1": want host:port`}},
		{name: "mixed schemes", yaml: "registry: {backend: etcd, endpoints: [\"http://a:1\", \"https://b:1\"]}\n",
			errs: []string{"registry.endpoints: mixes http:// and https://"}},
		{name: "tls with http", yaml: "registry: {backend: etcd, endpoints: [\"http://a:1\"], tls: {ca_file: /ca.pem}}\n",
			errs: []string{"registry.tls: set, but the endpoints say http://"}},
		{name: "every etcd problem at once", yaml: `registry:
  backend: etcd
  endpoints: [a:1]
  prefix: vmgate
  dial_timeout: -1s
  timeout: 2m
  tls: {cert_file: /c.pem}
  username: u
replica: {name: "gw a"}
`, errs: []string{`registry.prefix: "vmgate" must start and end with /`, "registry.dial_timeout: -1s must be positive",
			"registry.timeout: 2m0s must be in (0, 1m]", "registry.tls: cert_file and key_file go together",
			"registry: username and password go together", `replica.name: "gw a" must match`}},
		{name: "etcd keys with backend file", yaml: "registry: {endpoints: [a:1], password: etcd-secret-pw}\n",
			warnings: []string{"registry: endpoints, password: only used with backend etcd; ignored with backend file"}},
		{name: "password in clear text", yaml: "registry: {backend: etcd, endpoints: [a:1], username: u, password: etcd-secret-pw}\n",
			warnings: []string{"registry.password: sent to etcd in clear text"}},
		{name: "unknown registry key", yaml: "registry: {backend: etcd, endpoint: [a:1]}\n",
			errs: []string{"field endpoint not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(minimalYAML + tt.yaml))
			if len(tt.errs) > 0 {
				if err == nil {
					t.Fatalf("ParseConfig succeeded, want %q", tt.errs)
				}
				for _, w := range tt.errs {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error\n%v\nlacks %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "etcd-secret-pw") {
					t.Errorf("error reveals the password:\n%v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			all := strings.Join(cfg.Warnings, "\n")
			for _, w := range tt.warnings {
				if !strings.Contains(all, w) {
					t.Errorf("warnings\n%s\nlack %q", all, w)
				}
			}
			if strings.Contains(all, "etcd-secret-pw") {
				t.Errorf("warnings reveal the password:\n%s", all)
			}
			if tt.check != nil {
				tt.check(t, cfg)
			}
		})
	}
}

// TestRegistryPasswordRedacted: the etcd password marshals and logs as <secret>.
func TestRegistryPasswordRedacted(t *testing.T) {
	cfg := mustParse(t, minimalYAML+"registry: {backend: etcd, endpoints: [\"https://a:1\"], username: u, password: etcd-secret-pw}\n")
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("whole", "config", cfg, "registry", cfg.Registry)
	for name, r := range map[string]string{"yaml": string(out), "slog": logs.String(), "%+v": fmt.Sprintf("%+v", cfg.Registry)} {
		if strings.Contains(r, "etcd-secret-pw") {
			t.Errorf("%s rendering reveals the password:\n%s", name, r)
		}
	}
	if !strings.Contains(string(out), "password: <secret>") {
		t.Errorf("marshalled registry has no <secret> password:\n%s", out)
	}
}
