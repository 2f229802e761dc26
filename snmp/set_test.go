package snmp

import (
	"context"
	"testing"

	"github.com/gosnmp/gosnmp"
)

func TestSet(t *testing.T) {
	cfg := baseConfig(t)
	e, addr := startEngine(t, cfg)
	v1 := v2client(t, addr, "private", gosnmp.Version1)
	v2 := v2client(t, addr, "private", gosnmp.Version2c)
	v2ro := v2client(t, addr, "public", gosnmp.Version2c)
	v3 := v3client(t, addr, cfg.Users[1], "kvm1")
	v3ro := v3client(t, addr, cfg.Users[0], "")
	i := func(col, row uint32, v int) gosnmp.SnmpPDU {
		return gosnmp.SnmpPDU{Name: oidStr(testRoot, col, row), Type: gosnmp.Integer, Value: v}
	}
	s := func(col, row uint32, v string) gosnmp.SnmpPDU {
		return gosnmp.SnmpPDU{Name: oidStr(testRoot, col, row), Type: gosnmp.OctetString, Value: v}
	}
	tests := []struct {
		name      string
		x         *gosnmp.GoSNMP
		vars      []gosnmp.SnmpPDU
		wantErr   gosnmp.SNMPError
		wantIndex uint8
	}{
		{"ok v2c", v2, []gosnmp.SnmpPDU{i(2, 1, 50), s(3, 1, "abc")}, gosnmp.NoError, 0},
		{"ok v3 authPriv", v3, []gosnmp.SnmpPDU{i(2, 2, 60)}, gosnmp.NoError, 0},
		{"wrongType", v2, []gosnmp.SnmpPDU{i(2, 1, 5), s(2, 2, "x")}, gosnmp.WrongType, 2},
		{"wrongLength", v2, []gosnmp.SnmpPDU{s(3, 1, "much too long")}, gosnmp.WrongLength, 1},
		{"wrongValue", v2, []gosnmp.SnmpPDU{i(2, 1, 5), i(2, 2, 6), i(2, 3, 101)}, gosnmp.WrongValue, 3},
		{"inconsistentValue", v2, []gosnmp.SnmpPDU{i(2, 1, 99)}, gosnmp.InconsistentValue, 1},
		{"noCreation", v2, []gosnmp.SnmpPDU{i(2, 5, 1)}, gosnmp.NoCreation, 1},
		{"notWritable column", v2, []gosnmp.SnmpPDU{s(1, 1, "x")}, gosnmp.NotWritable, 1},
		{"inconsistentName", v2, []gosnmp.SnmpPDU{i(2, 7, 1)}, gosnmp.InconsistentName, 1},
		{"resourceUnavailable", v2, []gosnmp.SnmpPDU{i(2, 1, 1), i(2, 8, 1)}, gosnmp.ResourceUnavailable, 2},
		{"notWritable outside handlers", v2, []gosnmp.SnmpPDU{i(2, 1, 1),
			{Name: "1.3.6.1.9.1.0", Type: gosnmp.Integer, Value: 1}}, gosnmp.NotWritable, 2},
		{"notWritable built-in", v2, []gosnmp.SnmpPDU{{Name: "1.3.6.1.2.1.1.5.0", Type: gosnmp.OctetString, Value: "x"}}, gosnmp.NotWritable, 1},
		{"read-only community", v2ro, []gosnmp.SnmpPDU{i(2, 1, 1)}, gosnmp.NoAccess, 1},
		{"read-only user", v3ro, []gosnmp.SnmpPDU{i(2, 1, 1)}, gosnmp.NoAccess, 1},
		// RFC 3584 section 4.4 mappings for v1.
		{"v1 ok", v1, []gosnmp.SnmpPDU{i(2, 3, 70)}, gosnmp.NoError, 0},
		{"v1 wrongType -> badValue", v1, []gosnmp.SnmpPDU{i(2, 1, 5), s(2, 2, "x")}, gosnmp.BadValue, 2},
		{"v1 wrongValue -> badValue", v1, []gosnmp.SnmpPDU{i(2, 3, 101)}, gosnmp.BadValue, 1},
		{"v1 noCreation -> noSuchName", v1, []gosnmp.SnmpPDU{i(2, 5, 1)}, gosnmp.NoSuchName, 1},
		{"v1 notWritable -> noSuchName", v1, []gosnmp.SnmpPDU{i(2, 1, 1), {Name: "1.3.6.1.9.1.0", Type: gosnmp.Integer, Value: 1}}, gosnmp.NoSuchName, 2},
		{"v1 resourceUnavailable -> genErr", v1, []gosnmp.SnmpPDU{i(2, 8, 1)}, gosnmp.GenErr, 1},
		{"v1 read-only -> noSuchName", v2client(t, addr, "public", gosnmp.Version1), []gosnmp.SnmpPDU{i(2, 1, 1)}, gosnmp.NoSuchName, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.x.Set(tt.vars)
			if err != nil {
				t.Fatalf("Set: %v", err)
			}
			if res.Error != tt.wantErr || res.ErrorIndex != tt.wantIndex {
				t.Fatalf("status %v index %d, want %v index %d", res.Error, res.ErrorIndex, tt.wantErr, tt.wantIndex)
			}
			if len(res.Variables) != len(tt.vars) {
				t.Errorf("response has %d varbinds, want %d", len(res.Variables), len(tt.vars))
			}
		})
	}
	// Committed values are visible; failed SETs applied nothing.
	res, err := v2.Get([]string{oidStr(testRoot, 2, 1), oidStr(testRoot, 3, 1), oidStr(testRoot, 2, 2), oidStr(testRoot, 2, 3)})
	if err != nil {
		t.Fatal(err)
	}
	want := []any{50, []byte("abc"), 60, 70}
	for k, w := range want {
		got := res.Variables[k].Value
		if b, ok := w.([]byte); ok {
			if string(got.([]byte)) != string(b) {
				t.Errorf("varbind %d = %v, want %s", k, got, b)
			}
		} else if got != w {
			t.Errorf("varbind %d = %v, want %v", k, got, w)
		}
	}
	if n := e.cnt.inBadCommunityUses.Load(); n != 2 {
		t.Errorf("snmpInBadCommunityUses = %d, want 2", n)
	}
}

func TestSetCommitFailures(t *testing.T) {
	cfg := baseConfig(t)
	e, addr := startEngine(t, cfg)
	h := newTableHandler()
	e.Register(testRoot, h)
	other := newTableHandler()
	otherRoot := MustOID("1.3.6.1.4.1.99999.2")
	e.Register(otherRoot, &rootedTable{root: otherRoot, t: other})
	v2 := v2client(t, addr, "private", gosnmp.Version2c)
	set := func(vars ...gosnmp.SnmpPDU) *gosnmp.SnmpPacket {
		t.Helper()
		res, err := v2.Set(vars)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a := gosnmp.SnmpPDU{Name: oidStr(testRoot, 2, 1), Type: gosnmp.Integer, Value: 5}
	b := gosnmp.SnmpPDU{Name: oidStr(otherRoot, 2, 1), Type: gosnmp.Integer, Value: 5}

	h.setFail(gosnmp.CommitFailed)
	if res := set(a); res.Error != gosnmp.CommitFailed || res.ErrorIndex != 1 {
		t.Errorf("commit failure: %v index %d", res.Error, res.ErrorIndex)
	}
	h.setFail(gosnmp.NoError)
	other.setFail(gosnmp.CommitFailed)
	// The first handler committed, the second failed: nothing can undo the first.
	if res := set(a, b); res.Error != gosnmp.UndoFailed || res.ErrorIndex != 2 {
		t.Errorf("second handler commit failure: %v index %d, want undoFailed 2", res.Error, res.ErrorIndex)
	}
}

// rootedTable moves a tableHandler to another root.
type rootedTable struct {
	root OID
	t    *tableHandler
}

func (r *rootedTable) move(o OID, from, to OID) OID {
	if !o.HasPrefix(from) {
		return o
	}
	return append(to.Append(), o[len(from):]...)
}

func (r *rootedTable) Get(ctx context.Context, req *Request, o OID) VarBind {
	vb := r.t.Get(ctx, req, r.move(o, r.root, testRoot))
	vb.OID = o
	return vb
}

func (r *rootedTable) Next(ctx context.Context, req *Request, o OID) (VarBind, bool) {
	in := r.move(o, r.root, testRoot)
	if o.Compare(r.root) < 0 {
		in = testRoot
	}
	vb, ok := r.t.Next(ctx, req, in)
	vb.OID = r.move(vb.OID, testRoot, r.root)
	return vb, ok
}

func (r *rootedTable) TestSet(ctx context.Context, req *Request, vars []SetVar) error {
	return r.t.TestSet(ctx, req, r.moveVars(vars))
}

func (r *rootedTable) CommitSet(ctx context.Context, req *Request, vars []SetVar) error {
	return r.t.CommitSet(ctx, req, r.moveVars(vars))
}

func (r *rootedTable) moveVars(vars []SetVar) []SetVar {
	out := make([]SetVar, len(vars))
	for i, v := range vars {
		out[i] = v
		out[i].OID = r.move(v.OID, r.root, testRoot)
	}
	return out
}

// countingSetter counts commits and fails TestSet on value 13.
type countingSetter struct {
	tableHandler
	commits int
}

func (c *countingSetter) TestSet(_ context.Context, _ *Request, vars []SetVar) error {
	for _, v := range vars {
		if v.Value == 13 {
			return &SetError{Status: gosnmp.InconsistentValue, Index: v.Index}
		}
	}
	return nil
}

func (c *countingSetter) CommitSet(context.Context, *Request, []SetVar) error {
	c.commits++
	return nil
}

// TestSetRepeated: a manager's retry of a SET (same principal, context, request-id and
// varbinds) gets the first answer and is not run again; anything else runs.
func TestSetRepeated(t *testing.T) {
	e, _ := startEngine(t, baseConfig(t))
	root := OID{1, 3, 6, 1, 4, 1, 99999, 77}
	cs := &countingSetter{}
	e.Register(root, cs)
	admin := &Request{Context: "kvm1", Principal: Principal{Model: ModelUSM, Name: "admin", Access: ReadWrite}}
	other := &Request{Context: "kvm2", Principal: admin.Principal}
	oid := append(append(OID(nil), root...), 1, 0)
	setPDU := func(id int32, v int) *pdu {
		return &pdu{typ: gosnmp.SetRequest, requestID: id, vars: []VarBind{{OID: oid, Type: gosnmp.Integer, Value: v}}}
	}
	set := func(r *Request, id int32, v int) response {
		resp, answered := e.serveSet(context.Background(), r, setPDU(id, v), false)
		if !answered {
			t.Fatalf("SET %d of %d not answered", id, v)
		}
		return resp
	}
	steps := []struct {
		name    string
		r       *Request
		id      int32
		v       int
		status  gosnmp.SNMPError
		commits int
	}{
		{"first", admin, 7, 1, gosnmp.NoError, 1},
		{"retry", admin, 7, 1, gosnmp.NoError, 1},
		{"retry again", admin, 7, 1, gosnmp.NoError, 1},
		{"new request-id", admin, 8, 1, gosnmp.NoError, 2},
		{"same id, other value", admin, 8, 2, gosnmp.NoError, 3},
		{"same id, other context", other, 8, 2, gosnmp.NoError, 4},
		{"refused", admin, 9, 13, gosnmp.InconsistentValue, 4},
		{"refused, retry", admin, 9, 13, gosnmp.InconsistentValue, 4},
	}
	for _, s := range steps {
		resp := set(s.r, s.id, s.v)
		if resp.status != s.status || cs.commits != s.commits {
			t.Fatalf("%s: status %v, %d commits; want %v, %d", s.name, resp.status, cs.commits, s.status, s.commits)
		}
	}
	// A retry that arrives while the first run is still in progress is not answered
	// (and does not wait for it, holding a reader); the first run answers.
	key := setKey(admin, setPDU(10, 1))
	if !e.replay.begin(key) {
		t.Fatal("begin of a new SET refused")
	}
	if _, answered := e.serveSet(context.Background(), admin, setPDU(10, 1), false); answered {
		t.Fatal("a retry of a SET in progress was answered")
	}
	e.replay.end(key)
	if cs.commits != 4 {
		t.Fatalf("the dropped retry committed: %d commits", cs.commits)
	}
	// With as many SETs waiting as half the readers, one more is dropped unanswered.
	e.setsIn.Store(e.setsMax())
	if _, answered := e.serveSet(context.Background(), admin, setPDU(11, 1), false); answered {
		t.Fatal("a SET beyond setsMax was answered")
	}
	e.setsIn.Store(0)
	if set(admin, 11, 1); cs.commits != 5 {
		t.Fatalf("%d commits after the queue emptied, want 5", cs.commits)
	}
}
