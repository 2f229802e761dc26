package e2e

import (
	"testing"

	"github.com/gosnmp/gosnmp"
)

// TestV3EveryProtocol does a GET with net-snmp for every auth x priv pair, and a GETNEXT
// and a bulkwalk for a few.
func TestV3EveryProtocol(t *testing.T) {
	users := comboUsers()
	g := Start(t, binary(t), baseConfig(t, users...))
	for _, u := range users {
		t.Run(u.Name, func(t *testing.T) {
			t.Parallel()
			cred := u.Cred("")
			vars := g.Get(t, cred, sysUpTime, snmpEngineID)
			if vars[0].Type != "Timeticks" || vars[1].Type != "Hex-STRING" {
				t.Fatalf("unexpected types:\n%s", fmtVars(vars))
			}
		})
	}
	for _, u := range []User{admin, users[0], users[len(users)-1]} {
		t.Run("next+bulk/"+u.Name, func(t *testing.T) {
			r := g.Run(t, "snmpgetnext", u.Cred(""), systemGroup)
			mustSucceed(t, r)
			if vs := r.Vars(); len(vs) != 1 || vs[0].OID != sysDescr {
				t.Fatalf("getnext: %s", r)
			}
			checkSortedUnder(t, g.Walk(t, u.Cred(""), systemGroup, "-Cr25"), systemGroup)
		})
	}
}

// TestV3PySNMPContexts uses pysnmp for v3 with contextName: the merged cluster "" and a
// host context both answer; a user limited to "" is refused the host context.
func TestV3PySNMPContexts(t *testing.T) {
	if err := PySNMPMissing(); err != nil {
		t.Skipf("SKIPPING pysnmp test: %v", err)
	}
	extra := []User{
		{Name: "py-sha512-aes256", AuthProtocol: "SHA-512", AuthPassphrase: "py-auth-pass-1",
			PrivProtocol: "AES-256", PrivPassphrase: "py-priv-pass-1", Access: "read-only", Contexts: []string{"*"}},
		{Name: "py-md5-des", AuthProtocol: "MD5", AuthPassphrase: "py-auth-pass-2",
			PrivProtocol: "DES", PrivPassphrase: "py-priv-pass-2", Access: "read-only", Contexts: []string{hostCtx}},
		{Name: "py-sha-aes192c", AuthProtocol: "SHA", AuthPassphrase: "py-auth-pass-3",
			PrivProtocol: "AES-192-C", PrivPassphrase: "py-priv-pass-3", Access: "read-only", Contexts: []string{"*"}},
	}
	g := Start(t, binary(t), baseConfig(t, extra...))
	cases := []struct {
		name string
		user User
		ctx  string
	}{
		{"admin merged", admin, ""},
		{"admin host", admin, hostCtx},
		{"sha512-aes256 host", extra[0], hostCtx},
		{"md5-des host only", extra[1], hostCtx},
		{"sha-aes192c merged", extra[2], ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := g.PySNMP(t, PyRequestFor(c.user.Cred(c.ctx), "get", sysUpTime[1:], sysName[1:]))
			if res.ErrorIndication != nil || res.ErrorStatus != nil || len(res.VarBinds) != 2 {
				t.Fatalf("get in context %q: %s", c.ctx, res)
			}
			if res.VarBinds[0][1] != "TimeTicks" || res.VarBinds[1][2] != "vmgate-e2e" {
				t.Fatalf("unexpected varbinds %v", res.VarBinds)
			}
			walk := g.PySNMP(t, PyRequestFor(c.user.Cred(c.ctx), "walk", systemGroup[1:]))
			if walk.ErrorIndication != nil || len(walk.VarBinds) < 5 {
				t.Fatalf("walk in context %q: %s", c.ctx, walk)
			}
		})
	}
	t.Run("host-only user refused merged context", func(t *testing.T) {
		res := g.PySNMP(t, PyRequestFor(extra[1].Cred(""), "get", sysUpTime[1:]))
		if res.ErrorStatus == nil || *res.ErrorStatus != "authorizationError" || len(res.VarBinds) != 0 {
			t.Fatalf("%s in context \"\": want authorizationError, got %s", extra[1].Name, res)
		}
	})
	t.Run("unknown context", func(t *testing.T) {
		d := delta(t, g, snmpUnknownContexts, func() {
			req := PyRequestFor(extra[1].Cred("no-such-host"), "get", sysUpTime[1:])
			req.Timeout = 1
			res := g.PySNMP(t, req)
			// pysnmp names reports it has no text for by the counter's OID.
			if res.ErrorIndication == nil || *res.ErrorIndication != snmpUnknownContexts[1:] || len(res.VarBinds) != 0 {
				t.Fatalf("want the snmpUnknownContexts report, got %s", res)
			}
		})
		if d != 1 {
			t.Fatalf("snmpUnknownContexts grew by %d, want 1", d)
		}
	})
}

// TestV3Failures: each USM or context failure gives the exact net-snmp message and
// bumps its counter by exactly one (read afterwards with a correct user), and returns no
// data.
func TestV3Failures(t *testing.T) {
	authOnly := User{Name: "authonly", AuthProtocol: "SHA", AuthPassphrase: "authonly-pass",
		Access: "read-only", Contexts: []string{"*"}}
	g := Start(t, binary(t), baseConfig(t, authOnly))
	good := admin.Cred("")
	wrongAuth, wrongPriv, unknown, lowLevel, unknownCtx := good, good, good, good, good
	wrongAuth.AuthPass = "not-the-auth-pass"
	wrongPriv.PrivPass = "not-the-priv-pass"
	unknown.User = "nobody"
	lowLevel.PrivProto, lowLevel.PrivPass = "", ""
	unknownCtx.Context = "no-such-host"
	highLevel := authOnly.Cred("")
	highLevel.PrivProto, highLevel.PrivPass = "AES", "authonly-priv" // user has no privacy
	cases := []struct {
		name    string
		cred    Cred
		counter string // "" when no counter applies
		output  string // what net-snmp prints
	}{
		{"wrong auth passphrase", wrongAuth, usmStatsWrongDigests, "Authentication failure (incorrect password, community or key)"},
		{"wrong priv passphrase", wrongPriv, usmStatsDecryptionErrors, "Decryption error"},
		{"unknown user", unknown, usmStatsUnknownUserNames, "Unknown user name"},
		// RFC 3414 3.2 step 5: the user cannot do the level asked (privacy without keys).
		{"level above the user's", highLevel, usmStatsUnsupportedSecLevels, "Unsupported security level"},
		// A level the user supports but below what access needs: VACM refuses it.
		{"authNoPriv for an authPriv user", lowLevel, "", "Reason: authorizationError (access denied to that object)"},
		{"unknown context", unknownCtx, snmpUnknownContexts, "Bad context specified"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r Result
			// Every case gets an answer (a Report or an error): a short -t would turn a
			// reply slowed by a loaded machine into a timeout.
			get := func() { r = g.Run(t, "snmpget", c.cred, "-t", "10", sysUpTime) }
			if c.counter == "" {
				get()
			} else if d := delta(t, g, c.counter, get); d != 1 {
				t.Errorf("%s grew by %d, want 1", c.counter, d)
			}
			mustFail(t, r)
			mustContain(t, r, c.output)
			if len(r.Vars()) != 0 {
				t.Fatalf("a refused request returned data: %s", r)
			}
		})
	}
}

// TestV3NotInTimeWindow forges the engine time (RFC 3414 3.2 step 7: more than 150 s
// off) and an old engineBoots with gosnmp: the answer is a Report carrying
// usmStatsNotInTimeWindows, never the requested variable.
func TestV3NotInTimeWindow(t *testing.T) {
	g := Start(t, binary(t), baseConfig(t))
	cred := admin.Cred("")
	ep, err := g.Discover(cred)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	late, early, oldBoots := ep, ep, ep
	late.Time += 1000
	if early.Time > 200 {
		early.Time -= 200
	} else {
		early.Time = 0
		early.Boots-- // time cannot go below zero: use the previous boot instead
	}
	oldBoots.Boots--
	for _, c := range []struct {
		name string
		ep   EngineParams
	}{{"time +1000s", late}, {"time -200s", early}, {"boots-1", oldBoots}} {
		t.Run(c.name, func(t *testing.T) {
			var pkt *gosnmp.SnmpPacket
			d := delta(t, g, usmStatsNotInTimeWindows, func() {
				pkt, err = g.SendForged(cred, c.ep, sysName)
				if err != nil {
					t.Fatalf("forged GET: %v", err)
				}
			})
			if pkt.PDUType != gosnmp.Report {
				t.Fatalf("want a Report, got %v %+v", pkt.PDUType, pkt.Variables)
			}
			if len(pkt.Variables) != 1 || pkt.Variables[0].Name != usmStatsNotInTimeWindows {
				t.Fatalf("want one usmStatsNotInTimeWindows varbind, got %+v", pkt.Variables)
			}
			if d != 1 {
				t.Fatalf("usmStatsNotInTimeWindows grew by %d, want 1", d)
			}
		})
	}
	// The agent's own clock is good: a fresh discovery still works.
	if _, err := g.Discover(cred); err != nil {
		t.Fatalf("discovery after forged requests: %v", err)
	}
}

// TestV3PySNMPProtocols: pysnmp, a second independent USM implementation, with each
// privacy protocol, paired with short auth hashes so that AES-192/256 need their key
// extension (Blumenthal for AES-192/AES-256, Reeder for the -C variants).
func TestV3PySNMPProtocols(t *testing.T) {
	if err := PySNMPMissing(); err != nil {
		t.Skipf("SKIPPING pysnmp test: %v", err)
	}
	pairs := [][2]string{
		{"MD5", ""}, {"SHA-224", "DES"}, {"SHA-384", "AES"},
		{"MD5", "AES-192"}, {"SHA", "AES-256"}, {"MD5", "AES-192-C"}, {"SHA-224", "AES-256-C"},
	}
	var users []User
	for _, p := range pairs {
		users = append(users, comboUser(p[0], p[1]))
	}
	g := Start(t, binary(t), baseConfig(t, users...))
	for _, u := range users {
		t.Run(u.Name, func(t *testing.T) {
			res := g.PySNMP(t, PyRequestFor(u.Cred(hostCtx), "get", sysUpTime[1:], sysName[1:]))
			if res.ErrorIndication != nil || res.ErrorStatus != nil || len(res.VarBinds) != 2 ||
				res.VarBinds[1][2] != "vmgate-e2e" {
				t.Fatalf("pysnmp get: %s", res)
			}
		})
	}
}
