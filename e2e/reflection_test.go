package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// TestCommunityReflection: a small v2c GETBULK, which anyone can send with a forged
// source address, gets at most 1,472 bytes back (snmp.community_max_message_size and
// community_max_repetitions at their defaults), while net-snmp's snmpbulkwalk over
// v2c still reads everything the v3 walk reads, in more round trips.
func TestCommunityReflection(t *testing.T) {
	g := startMIBGateway(t)
	pkt := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "public", PDUType: gosnmp.GetBulkRequest,
		RequestID: 1, MaxRepetitions: 1000, Variables: []gosnmp.SnmpPDU{{Name: ".1.3", Type: gosnmp.Null}}}
	req, err := pkt.MarshalMsg()
	if err != nil {
		t.Fatal(err)
	}
	out, err := g.Exchange(req, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("GETBULK of %d bytes answered with %d (x%.1f)", len(req), len(out), float64(len(out))/float64(len(req)))
	if len(out) == 0 || len(out) > 1472 || float64(len(out))/float64(len(req)) > 1472.0/float64(len(req)) {
		t.Errorf("answer of %d bytes to a %d-byte GETBULK, want at most 1472", len(out), len(req))
	}
	oids := func(vars []Var) []string {
		var s []string
		for _, v := range vars {
			s = append(s, v.OID)
		}
		return s
	}
	v2 := g.Run(t, "snmpbulkwalk", V2c("public"), "-Cr50", vmEntry)
	mustSucceed(t, v2)
	v3 := g.Run(t, "snmpbulkwalk", admin.Cred(""), "-Cr50", vmEntry)
	mustSucceed(t, v3)
	if a, b := oids(v2.WalkVars()), oids(v3.WalkVars()); len(a) == 0 || !slices.Equal(a, b) {
		t.Errorf("v2c walk of vmEntry: %d instances, v3: %d", len(a), len(b))
	}
}
