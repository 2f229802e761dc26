package e2e

import (
	"testing"
)

// TestSetRefused: a read-only principal gets noAccess (v2c/v3) or noSuchName (v1, RFC
// 3584 section 4.4), a writer setting a read-only object gets notWritable (noSuchName in
// v1), and nothing changes.
func TestSetRefused(t *testing.T) {
	g := Start(t, binary(t), baseConfig(t))
	cases := []struct {
		name   string
		cred   Cred
		oid    string
		reason string
	}{
		{"v2c read-only community", V2c("public"), sysName, "Reason: noAccess"},
		{"v3 read-only user", reader.Cred(""), sysName, "Reason: noAccess"},
		{"v1 read-only community", V1("public"), sysName, "Reason: (noSuchName)"},
		{"v2c writer, read-only object", V2c("private-rw"), sysUpTime, "Reason: notWritable"},
		{"v3 writer, read-only object", admin.Cred(""), sysUpTime, "Reason: notWritable"},
		{"v1 writer, read-only object", V1("private-rw"), sysUpTime, "Reason: (noSuchName)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			typ, val := "s", "changed-by-e2e"
			if c.oid == sysUpTime {
				typ, val = "t", "1"
			}
			r := g.Set(t, c.cred, c.oid, typ, val)
			mustFail(t, r)
			mustContain(t, r, c.reason)
			mustContain(t, r, "Failed object: "+c.oid)
			if got := g.Get(t, V2c("public"), sysName)[0].Value; got != "vmgate-e2e" {
				t.Fatalf("sysName changed to %q", got)
			}
		})
	}
}

// TestSetRefusedPySNMP: the same refusals as pysnmp sees them (its own v1/v2c/v3 stacks).
func TestSetRefusedPySNMP(t *testing.T) {
	if err := PySNMPMissing(); err != nil {
		t.Skipf("SKIPPING pysnmp test: %v", err)
	}
	desReader := User{Name: "des-reader", AuthProtocol: "SHA-512", AuthPassphrase: "des-reader-auth",
		PrivProtocol: "DES", PrivPassphrase: "des-reader-priv", Access: "read-only", Contexts: []string{"*"}}
	g := Start(t, binary(t), baseConfig(t, desReader))
	cases := []struct {
		name   string
		cred   Cred
		oid    string
		status string
	}{
		{"v1 read-only", V1("public"), sysName, "noSuchName"},
		{"v2c read-only", V2c("public"), sysName, "noAccess"},
		{"v3 read-only", desReader.Cred(hostCtx), sysName, "noAccess"},
		{"v2c writer, read-only object", V2c("private-rw"), sysDescr, "notWritable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := PyRequestFor(c.cred, "set")
			req.SetValues = [][]string{{c.oid[1:], "s", "changed-by-pysnmp"}}
			res := g.PySNMP(t, req)
			if res.ErrorStatus == nil || *res.ErrorStatus != c.status || res.ErrorIndex != 1 {
				t.Fatalf("want %s at index 1, got %s", c.status, res)
			}
		})
	}
}
