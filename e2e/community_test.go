package e2e

import (
	"strings"
	"testing"
)

// TestCommunityReads drives GET, GETNEXT and walks over v1 and v2c.
func TestCommunityReads(t *testing.T) {
	g := Start(t, binary(t), baseConfig(t))
	for _, cred := range []Cred{V1("public"), V2c("public"), V1("private-rw"), V2c("private-rw")} {
		t.Run(cred.String(), func(t *testing.T) {
			vars := g.Get(t, cred, sysUpTime, sysName)
			if vars[0].Type != "Timeticks" {
				t.Errorf("sysUpTime: want Timeticks, got %+v", vars[0])
			}
			if vars[1].Type != "STRING" || vars[1].Value != "vmgate-e2e" {
				t.Errorf("sysName: want STRING vmgate-e2e, got %+v", vars[1])
			}

			r := g.Run(t, "snmpgetnext", cred, systemGroup)
			mustSucceed(t, r)
			if vs := r.Vars(); len(vs) != 1 || vs[0].OID != sysDescr {
				t.Errorf("getnext system: want sysDescr.0, got %s", r)
			}

			walk := g.Walk(t, cred, systemGroup)
			checkSortedUnder(t, walk, systemGroup)
			varValue(t, walk, sysObjectID)
		})
	}
}

// TestCommunityBulkwalk walks the agent's own subtrees with GETBULK (-Cr25) and checks
// the OIDs against a GETNEXT walk.
func TestCommunityBulkwalk(t *testing.T) {
	g := Start(t, binary(t), baseConfig(t))
	for _, root := range []string{".1.3.6.1.2.1.11", ".1.3.6.1.6.3", ".1.3.6.1.2.1"} {
		t.Run(root, func(t *testing.T) {
			bulk := g.Walk(t, V2c("public"), root, "-Cr25")
			r := g.Run(t, "snmpwalk", V2c("public"), root)
			mustSucceed(t, r)
			next := r.WalkVars()
			checkSortedUnder(t, bulk, root)
			if len(bulk) != len(next) || len(bulk) < 8 {
				t.Fatalf("bulkwalk got %d varbinds, walk %d:\n%s", len(bulk), len(next), fmtVars(bulk))
			}
			for i := range bulk {
				if bulk[i].OID != next[i].OID {
					t.Fatalf("varbind %d: bulk %s, walk %s", i, bulk[i].OID, next[i].OID)
				}
			}
		})
	}
}

// TestCommunityMissing checks the v1 and v2c ways of saying "no such variable".
func TestCommunityMissing(t *testing.T) {
	g := Start(t, binary(t), baseConfig(t))
	missing := ".1.3.6.1.2.1.1.99.0"
	t.Run("v1 noSuchName", func(t *testing.T) {
		r := g.Run(t, "snmpget", V1("public"), missing)
		mustFail(t, r)
		mustContain(t, r, "(noSuchName)")
		mustContain(t, r, "Failed object: "+missing)
	})
	for _, tc := range []struct{ name, oid, want string }{
		{"v2c noSuchObject", missing, "No Such Object"},
		{"v2c noSuchInstance", ".1.3.6.1.2.1.1.3.1", "No Such Instance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := g.Run(t, "snmpget", V2c("public"), tc.oid)
			mustSucceed(t, r)
			v := r.Vars()
			if len(v) != 1 || !strings.HasPrefix(v[0].Value, tc.want) {
				t.Fatalf("want %s, got %s", tc.want, r)
			}
		})
	}
	t.Run("v2c endOfMibView", func(t *testing.T) {
		r := g.Run(t, "snmpgetnext", V2c("public"), ".1.3.6.1.6.3.99")
		mustSucceed(t, r)
		mustContain(t, r, "No more variables left in this MIB View")
	})
}

// TestUnknownCommunity: no answer at all (RFC 3584: a silent drop) and
// snmpInBadCommunityNames counts it.
func TestUnknownCommunity(t *testing.T) {
	g := Start(t, binary(t), baseConfig(t))
	for _, cred := range []Cred{V1("nope"), V2c("nope"), V2c("Public")} {
		t.Run(cred.String(), func(t *testing.T) {
			d := delta(t, g, snmpInBadCommunityNames, func() {
				r := g.Run(t, "snmpget", cred, "-t", "1", sysUpTime)
				mustFail(t, r)
				mustContain(t, r, "Timeout: No Response from "+g.Addr)
			})
			if d != 1 {
				t.Fatalf("snmpInBadCommunityNames grew by %d, want 1", d)
			}
		})
	}
}

// checkSortedUnder fails unless vars is non-empty, strictly increasing and under root.
func checkSortedUnder(t *testing.T, vars []Var, root string) {
	t.Helper()
	if len(vars) == 0 {
		t.Fatalf("empty walk of %s", root)
	}
	for _, v := range vars {
		if !strings.HasPrefix(v.OID, root+".") {
			t.Fatalf("%s is outside %s", v.OID, root)
		}
	}
	checkIncreasing(t, vars)
}

// TestGetBulkEdges: non-repeaters and repetitions land exactly (RFC 3416 4.2.3), a huge
// max-repetitions is cut to what fits in one message (to the communities' cap for v2c)
// instead of failing, and a GET of many varbinds is answered in order.
func TestGetBulkEdges(t *testing.T) {
	g := Start(t, binary(t), baseConfig(t))
	for _, cred := range []Cred{V2c("public"), admin.Cred(""), admin.Cred(hostCtx)} {
		t.Run(cred.String(), func(t *testing.T) {
			r := g.Run(t, "snmpbulkget", cred, "-Cn1", "-Cr3", ".1.3.6.1.2.1.1.3", systemGroup)
			mustSucceed(t, r)
			want := []string{sysUpTime, sysDescr, sysObjectID, sysUpTime}
			got := r.Vars()
			if len(got) != len(want) {
				t.Fatalf("want %v, got %s", want, r)
			}
			for i := range want {
				if got[i].OID != want[i] {
					t.Fatalf("varbind %d: want %s, got %s", i, want[i], r)
				}
			}

			r = g.Run(t, "snmpbulkget", cred, "-Cr10000", ".1")
			mustSucceed(t, r)
			vars := r.Vars()
			// Communities get snmp.community_max_repetitions (10) at most: no reflection.
			lo, hi := 20, 10000
			if cred == V2c("public") {
				lo, hi = 10, 10
			}
			if len(vars) < lo || len(vars) > hi {
				t.Fatalf("GETBULK -Cr10000 returned %d varbinds, want %d..%d", len(vars), lo, hi)
			}
			checkSortedUnder(t, trimEnd(vars), ".1")

			oids := make([]string, 0, 120)
			for range 40 {
				oids = append(oids, sysName, sysUpTime, snmpEngineBoots)
			}
			vs := g.Get(t, cred, oids...)
			for i, v := range vs {
				if v.OID != oids[i] {
					t.Fatalf("varbind %d: %s, want %s", i, v.OID, oids[i])
				}
			}
		})
	}
}

// trimEnd drops trailing endOfMibView exceptions of a GETBULK answer.
func trimEnd(vars []Var) []Var {
	for len(vars) > 0 && vars[len(vars)-1].Type == "" && strings.HasPrefix(vars[len(vars)-1].Value, endOfMibView) {
		vars = vars[:len(vars)-1]
	}
	return vars
}

// TestGetBulkFitsMessageSize: with max_message_size 484 (the RFC 3417 minimum) a
// GETBULK asking for far more is answered with as many varbinds as fit, never tooBig,
// and a walk still returns everything.
func TestGetBulkFitsMessageSize(t *testing.T) {
	cfg := baseConfig(t)
	cfg.MaxMessageSize = 484
	g := Start(t, binary(t), cfg)
	full := g.Walk(t, V2c("public"), ".1.3.6.1", "-Cr10")
	for _, cred := range []Cred{V2c("public"), admin.Cred("")} {
		t.Run(cred.String(), func(t *testing.T) {
			r := g.Run(t, "snmpbulkget", cred, "-Cr1000", ".1.3.6.1")
			mustSucceed(t, r)
			vars := trimEnd(r.Vars())
			if len(vars) == 0 || len(vars) >= len(full) {
				t.Fatalf("GETBULK in 484 bytes: %d varbinds of %d:\n%s", len(vars), len(full), r)
			}
			for i, v := range vars {
				if v.OID != full[i].OID {
					t.Fatalf("varbind %d: %s, walk says %s", i, v.OID, full[i].OID)
				}
			}
			walk := g.Walk(t, cred, ".1.3.6.1", "-Cr50")
			if len(walk) != len(full) {
				t.Fatalf("walk with -Cr50: %d varbinds, want %d", len(walk), len(full))
			}
		})
	}
}
