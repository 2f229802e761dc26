package e2e

import (
	"strconv"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// TestSetReplay: a captured authPriv SET sent again while its engine time is still in
// the USM window is not run again, even once the engine no longer keeps its answer
// (forgotten here after 256 later SETs; the unit test TestSetReplayed moves the engine
// clock past the answers' lifetime instead). After a restart the same bytes are out of
// the window (engineBoots grew): a Report.
func TestSetReplay(t *testing.T) {
	g, _ := controlGateway(t)
	cred := admin.Cred(hostCtx)
	id := createVM(t, g, cred, randomName(t, "replay-"))
	state := inst(vmEntry, colVmState, id)
	mustSucceed(t, g.Set(t, cred, state, "i", "2"))

	ep, err := g.Discover(cred)
	if err != nil {
		t.Fatal(err)
	}
	c, captured, err := g.EncodeV3(cred, ep, gosnmp.SetRequest,
		[]gosnmp.SnmpPDU{{Name: state, Type: gosnmp.Integer, Value: 4}}) // paused
	if err != nil {
		t.Fatal(err)
	}
	send := func() *gosnmp.SnmpPacket {
		t.Helper()
		reply, err := g.Exchange(captured, 5*time.Second)
		if err != nil {
			t.Fatalf("captured SET: %v", err)
		}
		p, err := c.SnmpDecodePacket(reply)
		if err != nil {
			t.Fatalf("captured SET's answer: %v", err)
		}
		return p
	}
	if p := send(); p.PDUType != gosnmp.GetResponse || p.Error != gosnmp.NoError {
		t.Fatalf("captured SET: %v %v", p.PDUType, p.Error)
	}
	if got := getVal(t, g, cred, state); got != "4" {
		t.Fatalf("vmState %s after the SET, want paused(4)", got)
	}
	mustSucceed(t, g.Set(t, cred, state, "i", "2")) // the operator resumes it

	// 256 later SETs (refused: no such row) push the first answer out of the engine.
	x, err := g.GoSNMP(cred)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Connect(); err != nil {
		t.Fatal(err)
	}
	defer x.Conn.Close()
	for i := range 256 {
		if _, err := x.Set([]gosnmp.SnmpPDU{{Name: inst(vmEntry, colVmState, 999999), Type: gosnmp.Integer, Value: 2}}); err != nil {
			t.Fatalf("filler SET %d: %v", i, err)
		}
	}
	off := g.LogLen()
	if reply, err := g.Exchange(captured, 3*time.Second); err == nil {
		p, _ := c.SnmpDecodePacket(reply)
		t.Errorf("the replayed SET was answered: %+v", p)
	}
	if got := getVal(t, g, cred, state); got != "2" {
		t.Fatalf("vmState %s after the replay, want running(2): the SET ran again", got)
	}
	g.WaitLog(t, off, "snmp set message replayed", 20*time.Second)
	mustSucceed(t, g.Set(t, cred, inst(vmEntry, colVmRowStatus, id), "i", "6"))

	g.Stop(t)
	g.Start(t)
	p := send()
	if p.PDUType != gosnmp.Report || len(p.Variables) != 1 || p.Variables[0].Name != usmStatsNotInTimeWindows {
		t.Fatalf("after a restart: %v %+v, want a usmStatsNotInTimeWindows Report", p.PDUType, p.Variables)
	}
	if want := strconv.FormatUint(uint64(ep.Boots)+1, 10); getVal(t, g, admin.Cred(""), snmpEngineBoots) != want {
		t.Fatalf("snmpEngineBoots after a restart, want %s", want)
	}
}
