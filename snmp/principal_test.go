package snmp

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/gosnmp/gosnmp"
)

// principalHandler records the principal names it is asked for.
type principalHandler struct {
	*tableHandler
	mu    sync.Mutex
	names []string
}

func (h *principalHandler) Get(ctx context.Context, r *Request, oid OID) VarBind {
	h.mu.Lock()
	h.names = append(h.names, r.Principal.Name)
	h.mu.Unlock()
	return h.tableHandler.Get(ctx, r, oid)
}

func (h *principalHandler) last() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.names[len(h.names)-1]
}

// TestPrincipalNameIsNoSecret: handlers log Principal.Name (the SET audit does), so for
// a community it is a label, never the community string.
func TestPrincipalNameIsNoSecret(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Communities[2].Name = "kvm1-monitor"
	e, addr := startEngine(t, cfg)
	h := &principalHandler{tableHandler: newTableHandler()}
	e.Register(testRoot, h)
	tests := []struct {
		name string
		x    *gosnmp.GoSNMP
		want string
	}{
		{"derived label", v2client(t, addr, "private", gosnmp.Version2c), "community[1]"},
		{"v1 derived label", v2client(t, addr, "public", gosnmp.Version1), "community[0]"},
		{"configured name", v2client(t, addr, "kvm1ro", gosnmp.Version2c), "kvm1-monitor"},
		{"user name", v3client(t, addr, cfg.Users[1], ""), "rw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.x.Get([]string{oidStr(testRoot, 2, 1)}); err != nil {
				t.Fatalf("Get: %v", err)
			}
			if got := h.last(); got != tt.want {
				t.Errorf("Principal.Name %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCommunityName(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"duplicate name", func(c *Config) { c.Communities[0].Name, c.Communities[1].Name = "nms", "nms" },
			"snmp.communities[1]: name: duplicate of communities[0]"},
		{"name is the community", func(c *Config) { c.Communities[0].Name = "public" },
			"snmp.communities[0]: name: same as the community string (names are logged)"},
		{"name shaped like a derived label", func(c *Config) { c.Communities[0].Name = "community[1]" },
			`snmp.communities[0]: name: "community[1]" is reserved`},
		{"name too long", func(c *Config) { c.Communities[0].Name = strings.Repeat("n", 33) },
			"snmp.communities[0]: name: longer than 32 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}
