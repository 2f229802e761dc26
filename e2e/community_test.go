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
	t.Run("v2c noSuchObject", func(t *testing.T) {
		r := g.Run(t, "snmpget", V2c("public"), missing)
		mustSucceed(t, r)
		v := r.Vars()
		if len(v) != 1 || !strings.HasPrefix(v[0].Value, "No Such Object") {
			t.Fatalf("want No Such Object, got %s", r)
		}
	})
	t.Run("v2c noSuchInstance", func(t *testing.T) {
		r := g.Run(t, "snmpget", V2c("public"), ".1.3.6.1.2.1.1.3.1")
		mustSucceed(t, r)
		v := r.Vars()
		if len(v) != 1 || !strings.HasPrefix(v[0].Value, "No Such Instance") {
			t.Fatalf("want No Such Instance, got %s", r)
		}
	})
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
	var prev []uint64
	for _, v := range vars {
		if !strings.HasPrefix(v.OID, root+".") {
			t.Fatalf("%s is outside %s", v.OID, root)
		}
		cur := oidNums(t, v.OID)
		if prev != nil && compareNums(prev, cur) >= 0 {
			t.Fatalf("walk not increasing at %s:\n%s", v.OID, fmtVars(vars))
		}
		prev = cur
	}
}
