package snmp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/vmgate/vmgate/e2e/testkit"
)

// testRoot is where tableHandler lives.
var testRoot = MustOID("1.3.6.1.4.1.99999.1")

// tableHandler is a tiny sorted table of instances under testRoot with SET support:
// column 1 is read-only, column 2 writable Integer 0..100, column 3 writable
// OctetString up to 8 bytes; row 9 may be created only in column 3 ... see TestSet.
type tableHandler struct {
	mu   sync.Mutex
	rows map[string]VarBind
	// failCommit makes CommitSet fail with this status.
	failCommit gosnmp.SNMPError
	lastCtx    string
}

func newTableHandler() *tableHandler {
	h := &tableHandler{rows: map[string]VarBind{}}
	for i := uint32(1); i <= 3; i++ {
		h.put(VarBind{OID: testRoot.Append(1, i), Type: gosnmp.OctetString, Value: []byte(fmt.Sprintf("row%d", i))})
		h.put(VarBind{OID: testRoot.Append(2, i), Type: gosnmp.Integer, Value: int(i * 10)})
		h.put(VarBind{OID: testRoot.Append(3, i), Type: gosnmp.OctetString, Value: []byte("x")})
	}
	h.put(VarBind{OID: testRoot.Append(4, 1), Type: gosnmp.Counter64, Value: uint64(1) << 40})
	return h
}

func (h *tableHandler) setFail(s gosnmp.SNMPError) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failCommit = s
}

func (h *tableHandler) put(vb VarBind) { h.rows[vb.OID.String()] = vb }

func (h *tableHandler) sorted() []VarBind {
	out := make([]VarBind, 0, len(h.rows))
	for _, vb := range h.rows {
		out = append(out, vb)
	}
	slices.SortFunc(out, func(a, b VarBind) int { return a.OID.Compare(b.OID) })
	return out
}

func (h *tableHandler) Get(_ context.Context, r *Request, oid OID) VarBind {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastCtx = r.Context
	if vb, ok := h.rows[oid.String()]; ok {
		return vb
	}
	if len(oid) == len(testRoot)+2 && oid[len(testRoot)] >= 1 && oid[len(testRoot)] <= 4 {
		return VarBind{OID: oid, Type: gosnmp.NoSuchInstance}
	}
	return VarBind{OID: oid, Type: gosnmp.NoSuchObject}
}

func (h *tableHandler) Next(_ context.Context, r *Request, oid OID) (VarBind, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastCtx = r.Context
	rows := h.sorted() // O(n) is fine for a test fixture
	i, found := slices.BinarySearchFunc(rows, oid, func(vb VarBind, o OID) int { return vb.OID.Compare(o) })
	if found {
		i++
	}
	if i >= len(rows) {
		return VarBind{}, false
	}
	return rows[i], true
}

func (h *tableHandler) TestSet(_ context.Context, _ *Request, vars []SetVar) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range vars {
		if len(v.OID) != len(testRoot)+2 {
			return &SetError{Status: gosnmp.NoCreation, Index: v.Index}
		}
		col, row := v.OID[len(testRoot)], v.OID[len(testRoot)+1]
		_, exists := h.rows[v.OID.String()]
		switch {
		case col == 1 || col == 4:
			return &SetError{Status: gosnmp.NotWritable, Index: v.Index}
		case row == 7:
			return &SetError{Status: gosnmp.InconsistentName, Index: v.Index}
		case row == 8:
			return &SetError{Status: gosnmp.ResourceUnavailable, Index: v.Index, Err: errors.New("test")}
		case !exists:
			return &SetError{Status: gosnmp.NoCreation, Index: v.Index}
		case col == 2 && v.Type != gosnmp.Integer, col == 3 && v.Type != gosnmp.OctetString:
			return &SetError{Status: gosnmp.WrongType, Index: v.Index}
		case col == 3 && len(v.Value.([]byte)) > 8:
			return &SetError{Status: gosnmp.WrongLength, Index: v.Index}
		case col == 2 && (v.Value.(int) < 0 || v.Value.(int) > 100):
			return &SetError{Status: gosnmp.WrongValue, Index: v.Index}
		case col == 2 && v.Value.(int) == 99:
			return &SetError{Status: gosnmp.InconsistentValue, Index: v.Index}
		}
	}
	return nil
}

func (h *tableHandler) CommitSet(_ context.Context, _ *Request, vars []SetVar) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failCommit != gosnmp.NoError {
		return &SetError{Status: h.failCommit, Index: vars[0].Index}
	}
	for _, v := range vars {
		h.put(v.VarBind)
	}
	return nil
}

func testLogger(tb testing.TB) *slog.Logger {
	tb.Helper()
	if os.Getenv("SNMP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// Test users: one per auth x priv combination is built by allUsers.
const (
	authPass = "authpass-123"
	privPass = "privpass-456"
)

func baseConfig(t *testing.T) Config {
	t.Helper()
	return Config{
		Listen:   []string{"udp:127.0.0.1:0"},
		StateDir: t.TempDir(),
		SysName:  "gw1", SysContact: "ops@example.net", SysLocation: "rack 4",
		Communities: []Community{
			{Community: "public", Access: ReadOnly},
			{Community: "private", Access: ReadWrite},
			{Community: "kvm1ro", Access: ReadOnly, Context: "kvm1"},
		},
		Users: []User{
			{Name: "ro", AuthProtocol: "SHA", AuthPassphrase: authPass, Access: ReadOnly, Contexts: []string{"*"}},
			{Name: "rw", AuthProtocol: "SHA-256", AuthPassphrase: authPass, PrivProtocol: "AES",
				PrivPassphrase: privPass, Access: ReadWrite, Contexts: []string{"*"}},
			{Name: "cluster", AuthProtocol: "MD5", AuthPassphrase: authPass, Access: ReadOnly, Contexts: []string{""}},
			{Name: "anon", Access: ReadOnly, Contexts: []string{""}},
		},
	}
}

// startEngine runs an Engine until the test ends and returns it with its UDP address.
func startEngine(t *testing.T, cfg Config, opts ...Option) (*Engine, *net.UDPAddr) {
	t.Helper()
	e, err := New(cfg, append([]Option{WithLogger(testLogger(t)), WithVersion("test")}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.SetContexts([]string{"kvm1", "kvm2"})
	e.Register(testRoot, newTableHandler())
	serving := testkit.Go(t, "Serve", e.Serve)
	select {
	case <-e.Ready():
	case <-serving.Done():
		t.Fatalf("Serve: %v", serving.Err())
	case <-time.After(10 * time.Second):
		t.Fatal("engine not ready")
	}
	return e, e.Addrs()[0].(*net.UDPAddr)
}

func v2client(t *testing.T, addr *net.UDPAddr, community string, version gosnmp.SnmpVersion) *gosnmp.GoSNMP {
	t.Helper()
	x := &gosnmp.GoSNMP{Target: addr.IP.String(), Port: uint16(addr.Port), Community: community,
		Version: version, Timeout: 2 * time.Second, Retries: 1, MaxOids: 60}
	connect(t, x)
	return x
}

func v3client(t *testing.T, addr *net.UDPAddr, u User, contextName string) *gosnmp.GoSNMP {
	t.Helper()
	auth, _ := authProtocol(u.AuthProtocol)
	priv, _ := privProtocol(u.PrivProtocol)
	flags := gosnmp.NoAuthNoPriv
	if auth != gosnmp.NoAuth {
		flags = gosnmp.AuthNoPriv
	}
	if priv != gosnmp.NoPriv {
		flags = gosnmp.AuthPriv
	}
	x := &gosnmp.GoSNMP{Target: addr.IP.String(), Port: uint16(addr.Port), Version: gosnmp.Version3,
		Timeout: 2 * time.Second, Retries: 1, MaxOids: 60, SecurityModel: gosnmp.UserSecurityModel,
		MsgFlags: flags, ContextName: contextName,
		SecurityParameters: &gosnmp.UsmSecurityParameters{UserName: u.Name,
			AuthenticationProtocol: auth, AuthenticationPassphrase: string(u.AuthPassphrase),
			PrivacyProtocol: priv, PrivacyPassphrase: string(u.PrivPassphrase)}}
	connect(t, x)
	return x
}

func connect(t *testing.T, x *gosnmp.GoSNMP) {
	t.Helper()
	if err := x.Connect(); err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { x.Conn.Close() })
}

func oidStr(o OID, subs ...uint32) string { return o.Append(subs...).String() }

func itoa(i int) string { return strconv.Itoa(i) }

// eventually polls cond until it holds or 60 s pass (a bound on a hang, generous for a
// loaded 2-core CI machine): packets sent together are handled by concurrent workers,
// so counters settle a moment after the last reply.
func eventually(t *testing.T, cond func() bool) bool {
	t.Helper()
	return testkit.Poll(60*time.Second, cond)
}

// wrongPassphrases returns auth with a wrong authentication passphrase and priv with a
// wrong privacy one.
func wrongPassphrases(auth, priv User) (wrongAuth, wrongPriv User) {
	auth.AuthPassphrase = "not-the-password"
	priv.PrivPassphrase = "not-the-password"
	return auth, priv
}
