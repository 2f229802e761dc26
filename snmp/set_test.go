package snmp

import (
	"context"
	"testing"
	"time"

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

// stepClock freezes e's clock at its start and returns what moves it forward. Only for
// an engine driven through handlePacket by the test goroutine, not one serving.
func stepClock(e *Engine) func(time.Duration) {
	now := e.start
	e.now = func() time.Time { return now }
	return func(d time.Duration) { now = now.Add(d) }
}

// TestSetReplayed: an authenticated SET message runs once for as long as USM accepts
// it (until its msgAuthoritativeEngineTime leaves the 150 s window), however long the
// answers to retries are kept; a manager's retry (same request-id, new msgID and time)
// still gets the first answer.
func TestSetReplayed(t *testing.T) {
	e := fixedEngine(t)
	step := stepClock(e)
	root := OID{1, 3, 6, 1, 4, 1, 99999, 77}
	cs := &countingSetter{}
	e.Register(root, cs)
	rw := User{Name: "rw", AuthProtocol: "SHA-256", AuthPassphrase: authPass, PrivProtocol: "AES", PrivPassphrase: privPass}
	msg := func(msgID, reqID, etime uint32) []byte {
		return rawV3{engineID: e.engineID, boots: e.boots, time: etime, user: rw,
			flags: gosnmp.AuthPriv | gosnmp.Reportable, msgID: msgID, requestID: reqID,
			set: []gosnmp.SnmpPDU{{Name: root.Append(1, 0).String(), Type: gosnmp.Integer, Value: 1}}}.build(t)
	}
	// send returns the answer's PDU type and error status, or 0 and -1 when nothing came
	// back.
	send := func(b []byte) (gosnmp.PDUType, int) {
		out := e.handlePacket(context.Background(), b, nil, maxUDPPayload)
		if out == nil {
			return 0, -1
		}
		d := decodeReply(t, out, e.sec.Load().users["rw"])
		return d.p.typ, int(errorStatus(t, d.sp.pdu))
	}
	captured := msg(1, 7, 0)
	future := msg(9, 9, 140) // a manager whose idea of our time runs 140 s ahead
	steps := []struct {
		name    string
		at      time.Duration // engine time of the step
		forget  bool          // drop the kept answers first, as 256 later SETs would
		b       []byte
		typ     gosnmp.PDUType
		status  int
		commits int
	}{
		{"first", 0, false, captured, gosnmp.GetResponse, 0, 1},
		{"manager retry", 20 * time.Second, false, msg(2, 7, 20), gosnmp.GetResponse, 0, 1},
		{"replay after 35 s: the first answer", 35 * time.Second, false, captured, gosnmp.GetResponse, 0, 1},
		{"manager retry after 35 s", 35 * time.Second, false, msg(3, 7, 35), gosnmp.GetResponse, 0, 1},
		{"replay of a retry, answers gone", 140 * time.Second, true, msg(2, 7, 20), 0, -1, 1},
		{"replay at the window's edge", 150 * time.Second, true, captured, 0, -1, 1},
		{"replay out of the window", 151 * time.Second, false, captured, gosnmp.Report, 0, 1},
		{"message ahead of our time", 151 * time.Second, false, future, gosnmp.GetResponse, 0, 2},
		{"its replay 139 s later", 290 * time.Second, true, future, 0, -1, 2},
	}
	var at time.Duration
	for _, s := range steps {
		step(s.at - at)
		at = s.at
		if s.forget {
			e.replay.byKey, e.replay.order = nil, nil
		}
		typ, status := send(s.b)
		if typ != s.typ || (typ != gosnmp.Report && status != s.status) || cs.commits != s.commits {
			t.Fatalf("%s: answer %v %v, %d commits; want %v %v, %d", s.name, typ, status, cs.commits,
				s.typ, s.status, s.commits)
		}
	}
}

// TestSetReplayAfterRestart: the replay cache lives in memory, and need not survive a
// restart: engineBoots grows by one at each start, so every message sent to the
// previous run is outside the time window (a Report, nothing run).
func TestSetReplayAfterRestart(t *testing.T) {
	cfg := baseConfig(t)
	root := OID{1, 3, 6, 1, 4, 1, 99999, 77}
	start := func() (*Engine, *countingSetter) {
		e, err := New(cfg, WithLogger(testLogger(t)))
		if err != nil {
			t.Fatal(err)
		}
		cs := &countingSetter{}
		e.Register(root, cs)
		return e, cs
	}
	e1, cs1 := start()
	b := rawV3{engineID: e1.engineID, boots: e1.boots, time: e1.engineTime(), user: cfg.Users[1],
		flags: gosnmp.AuthPriv | gosnmp.Reportable, msgID: 1, requestID: 7,
		set: []gosnmp.SnmpPDU{{Name: root.Append(1, 0).String(), Type: gosnmp.Integer, Value: 1}}}.build(t)
	if e1.handlePacket(context.Background(), b, nil, maxUDPPayload) == nil || cs1.commits != 1 {
		t.Fatalf("first run: %d commits", cs1.commits)
	}
	e2, cs2 := start()
	if e2.boots != e1.boots+1 {
		t.Fatalf("boots %d after %d", e2.boots, e1.boots)
	}
	out := e2.handlePacket(context.Background(), b, nil, maxUDPPayload)
	if out == nil {
		t.Fatal("no Report")
	}
	d := decodeReply(t, out, e2.sec.Load().users[cfg.Users[1].Name])
	if d.p.typ != gosnmp.Report || d.p.vars[0].OID.String() != oidNotInTimeWindows.String() || cs2.commits != 0 {
		t.Fatalf("after a restart: %v %v, %d commits; want a notInTimeWindows Report, none", d.p.typ, d.p.vars, cs2.commits)
	}
}

// TestSetReplayFull: the seen set is bounded per user; a user over its share is
// refused (nothing forgotten while in its window) and the others are not.
func TestSetReplayFull(t *testing.T) {
	c := &setReplay{perUser: 2}
	m := func(b byte) *message { return &message{raw: []byte{b}} } // engine time 0: in the window until 150
	steps := []struct {
		name string
		m    *message
		user string
		now  int64
		want seenResult
	}{
		{"a 1", m(1), "a", 0, seenFresh},
		{"a 2", m(2), "a", 10, seenFresh},
		{"a 3: a is full", m(3), "a", 20, seenFull},
		{"b 4: b is not", m(4), "b", 20, seenFresh},
		{"a 1 again", m(1), "a", 150, seenBefore},
		{"a 3 once 1 and 2 left the window", m(3), "a", 151, seenFresh},
	}
	for _, s := range steps {
		if got := c.see(s.m, s.user, s.now); got != s.want {
			t.Fatalf("%s: %v, want %v", s.name, got, s.want)
		}
	}
	if len(c.seen) != 1 || c.seenBy["a"] != 1 || len(c.seenBy) != 1 {
		t.Errorf("after forgetting: %d entries, by user %v", len(c.seen), c.seenBy)
	}

	// On the wire: resourceUnavailable, not run.
	e := fixedEngine(t)
	e.replay.perUser = 1
	root := OID{1, 3, 6, 1, 4, 1, 99999, 77}
	cs := &countingSetter{}
	e.Register(root, cs)
	rw := User{Name: "rw", AuthProtocol: "SHA-256", AuthPassphrase: authPass, PrivProtocol: "AES", PrivPassphrase: privPass}
	for i, want := range []gosnmp.SNMPError{gosnmp.NoError, gosnmp.ResourceUnavailable} {
		b := rawV3{engineID: e.engineID, boots: e.boots, time: e.engineTime(), user: rw,
			flags: gosnmp.AuthPriv | gosnmp.Reportable, msgID: uint32(i + 1), requestID: uint32(i + 1),
			set: []gosnmp.SnmpPDU{{Name: root.Append(1, 0).String(), Type: gosnmp.Integer, Value: 1}}}.build(t)
		d := decodeReply(t, e.handlePacket(context.Background(), b, nil, maxUDPPayload), e.sec.Load().users["rw"])
		if got := errorStatus(t, d.sp.pdu); got != want || cs.commits != 1 {
			t.Fatalf("SET %d: %v, %d commits; want %v, 1", i+1, got, cs.commits, want)
		}
	}
}

// errorStatus reads a Response PDU element's error-status (parsePDU keeps it for
// GETBULK's non-repeaters only).
func errorStatus(t *testing.T, b []byte) gosnmp.SNMPError {
	t.Helper()
	el, err := (&berReader{buf: b}).next()
	if err != nil {
		t.Fatal(err)
	}
	r := sub(el)
	if _, err := r.integer("request-id"); err != nil {
		t.Fatal(err)
	}
	st, err := r.integer("error-status")
	if err != nil {
		t.Fatal(err)
	}
	return gosnmp.SNMPError(st)
}
