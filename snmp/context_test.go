package snmp

import (
	"context"
	"errors"
	"testing"

	"github.com/gosnmp/gosnmp"
)

func TestContextsAndAuthorization(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Users = append(cfg.Users, User{Name: "kvm2only", AuthProtocol: "SHA-512", AuthPassphrase: authPass,
		Access: ReadOnly, Contexts: []string{"kvm2"}})
	e, addr := startEngine(t, cfg)
	h := newTableHandler()
	e.Register(testRoot, h)
	lastCtx := func() string {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.lastCtx
	}
	tests := []struct {
		name    string
		x       *gosnmp.GoSNMP
		wantErr gosnmp.SNMPError
		wantCtx string
		report  bool // v3 Report instead of a Response
	}{
		{"community maps to its context", v2client(t, addr, "kvm1ro", gosnmp.Version2c), gosnmp.NoError, "kvm1", false},
		{"plain community is the cluster", v2client(t, addr, "public", gosnmp.Version2c), gosnmp.NoError, "", false},
		{"user with * in a host context", v3client(t, addr, cfg.Users[0], "kvm2"), gosnmp.NoError, "kvm2", false},
		{"user limited to the cluster asks a host", v3client(t, addr, cfg.Users[2], "kvm1"), gosnmp.AuthorizationError, "", false},
		{"user limited to kvm2 asks the cluster", v3client(t, addr, cfg.Users[4], ""), gosnmp.AuthorizationError, "", false},
		{"user limited to kvm2 in kvm2", v3client(t, addr, cfg.Users[4], "kvm2"), gosnmp.NoError, "kvm2", false},
		{"unknown context", v3client(t, addr, cfg.Users[0], "kvm9"), gosnmp.NoError, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.x.Get([]string{oidStr(testRoot, 2, 1)})
			if tt.report {
				if !errors.Is(err, gosnmp.ErrUnknownReportPDU) || res == nil || res.Variables[0].Name != oidUnknownContexts.String() {
					t.Fatalf("got %v, %v; want a snmpUnknownContexts report", res, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if res.Error != tt.wantErr {
				t.Fatalf("status %v, want %v", res.Error, tt.wantErr)
			}
			if tt.wantErr == gosnmp.NoError && lastCtx() != tt.wantCtx {
				t.Errorf("handler saw context %q, want %q", lastCtx(), tt.wantCtx)
			}
		})
	}
	// A host context removed later is unknown from then on.
	e.SetContexts([]string{"kvm2"})
	gone := v2client(t, addr, "kvm1ro", gosnmp.Version2c)
	gone.Retries = 0
	if _, err := gone.Get([]string{"1.3.6.1.2.1.1.5.0"}); err == nil {
		t.Error("community of a removed context still answered")
	}
	if n := e.cnt.unknownContexts.Load(); n != 2 {
		t.Errorf("snmpUnknownContexts = %d, want 2", n)
	}
}

// TestSlowHandlerDoesNotStall: a request blocked in one handler leaves the other
// workers free.
func TestSlowHandlerDoesNotStall(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Workers = 2
	e, addr := startEngine(t, cfg)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	slowRoot := MustOID("1.3.6.1.4.1.99999.9")
	e.Register(slowRoot, blockingHandler{entered: entered, release: release})
	t.Cleanup(func() { close(release) })
	slow := v2client(t, addr, "public", gosnmp.Version2c)
	slow.Retries = 0
	go func() { _, _ = slow.Get([]string{slowRoot.Append(1, 0).String()}) }()
	<-entered
	res, err := v2client(t, addr, "public", gosnmp.Version2c).Get([]string{"1.3.6.1.2.1.1.5.0"})
	if err != nil || res.Error != gosnmp.NoError {
		t.Fatalf("Get while another handler blocks: %v %v", res, err)
	}
}

type blockingHandler struct {
	entered chan struct{}
	release chan struct{}
}

func (b blockingHandler) Get(ctx context.Context, _ *Request, oid OID) VarBind {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return VarBind{OID: oid, Type: gosnmp.Integer, Value: 1}
}

func (b blockingHandler) Next(context.Context, *Request, OID) (VarBind, bool) {
	return VarBind{}, false
}
