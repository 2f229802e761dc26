package snmp

import (
	"bytes"
	"errors"
	"maps"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/e2e/testkit"
)

func TestRestartKeepsEngineIDAndCountsBoots(t *testing.T) {
	cfg := baseConfig(t)
	var ids [][]byte
	var boots []uint32
	for range 3 {
		e, err := New(cfg, WithLogger(testLogger(t)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.EngineID())
		boots = append(boots, e.Boots())
	}
	if !bytes.Equal(ids[0], ids[1]) || !bytes.Equal(ids[1], ids[2]) {
		t.Errorf("engine ID changed across restarts: %x", ids)
	}
	if boots[0] != 1 || boots[1] != 2 || boots[2] != 3 {
		t.Errorf("boots = %v, want [1 2 3]", boots)
	}
	if len(ids[0]) != 13 || ids[0][0]&0x80 == 0 || ids[0][4] != 5 {
		t.Errorf("engine ID %x is not RFC 3411 enterprise format 5", ids[0])
	}
	fi, err := os.Stat(filepath.Join(cfg.StateDir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	// A corrupt state file is an error, never a silently new identity.
	if err := os.WriteFile(filepath.Join(cfg.StateDir, stateFile), []byte("engine_id: zz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg); err == nil {
		t.Error("New accepted a corrupt engine state")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Users[0].AuthPassphrase = "short"
	if _, err := New(cfg); !errors.Is(err, ErrConfig) {
		t.Errorf("New = %v, want ErrConfig", err)
	}
}

func TestReload(t *testing.T) {
	cfg := baseConfig(t)
	e, addr := startEngine(t, cfg)
	next := cfg
	next.Communities = []Community{{Community: "fresh", Access: ReadOnly}}
	next.SysName = "gw2"
	next.Users = cfg.Users[:1]
	if err := e.Reload(next); err != nil {
		t.Fatal(err)
	}
	res, err := v2client(t, addr, "fresh", gosnmp.Version2c).Get([]string{"1.3.6.1.2.1.1.5.0"})
	if err != nil || string(res.Variables[0].Value.([]byte)) != "gw2" {
		t.Fatalf("new community: %v %v", res, err)
	}
	old := v2client(t, addr, "public", gosnmp.Version2c)
	old.Retries = 0
	old.Timeout = 500 * time.Millisecond
	if _, err := old.Get([]string{"1.3.6.1.2.1.1.5.0"}); err == nil {
		t.Error("removed community still answered")
	}
	// gosnmp drops the unauthenticated Report; the counter tells what happened.
	if _, err := v3client(t, addr, cfg.Users[1], "").Get([]string{"1.3.6.1.2.1.1.5.0"}); err == nil || e.cnt.unknownUserNames.Load() == 0 {
		t.Errorf("removed user: %v, usmStatsUnknownUserNames %d", err, e.cnt.unknownUserNames.Load())
	}
	bad := next
	bad.Users = append(bad.Users, User{Name: "x", AuthProtocol: "SHA", AuthPassphrase: "short", Access: ReadOnly, Contexts: []string{"*"}})
	if err := e.Reload(bad); err == nil {
		t.Error("Reload accepted an invalid config")
	}
	if res, err := v2client(t, addr, "fresh", gosnmp.Version2c).Get([]string{"1.3.6.1.2.1.1.5.0"}); err != nil || res.Error != gosnmp.NoError {
		t.Errorf("failed Reload changed the running config: %v %v", res, err)
	}
}

func TestCountersAndBadInput(t *testing.T) {
	cfg := baseConfig(t)
	e, addr := startEngine(t, cfg)
	pkt := func(version gosnmp.SnmpVersion, community string) []byte {
		p := &gosnmp.SnmpPacket{Version: version, Community: community, PDUType: gosnmp.GetRequest, RequestID: 9,
			Variables: []gosnmp.SnmpPDU{{Name: ".1.3.6.1.2.1.1.5.0", Type: gosnmp.Null}}}
		b, err := p.MarshalMsg()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	badVersion := pkt(gosnmp.Version2c, "public")
	badVersion[4] = 7 // version INTEGER value
	silent := [][]byte{
		pkt(gosnmp.Version2c, "wrong"),
		badVersion,
		{0x30, 0x03, 0x02, 0x01},                  // truncated
		{0x30, 0x82, 0xff, 0xff, 0x02},            // length past the end
		append(pkt(gosnmp.Version1, "public"), 0), // trailing garbage
	}
	// The answer to the good request arriving after all the bad ones proves none was answered.
	reply := udpExchange(t, addr, append(silent, pkt(gosnmp.Version1, "public"))...)
	m, err := parseMessage(reply)
	if err != nil || m.version != wireV1 {
		t.Fatalf("first reply %x: %v", reply, err)
	}
	want := map[string]uint32{
		"snmpInBadCommunityNames": 1, "snmpInBadVersions": 1, "snmpInASNParseErrs": 3, "snmpInPkts": 6,
	}
	got := func() map[string]uint32 {
		return map[string]uint32{
			"snmpInBadCommunityNames": e.cnt.inBadCommunityNames.Load(), "snmpInBadVersions": e.cnt.inBadVersions.Load(),
			"snmpInASNParseErrs": e.cnt.inASNParseErrs.Load(), "snmpInPkts": e.cnt.inPkts.Load(),
		}
	}
	if !eventually(t, func() bool { return maps.Equal(got(), want) }) {
		t.Errorf("counters %v, want %v", got(), want)
	}
	// The counters are visible over SNMP too.
	res, err := v2client(t, addr, "public", gosnmp.Version2c).Get([]string{
		oidStr(OIDSNMP, 4, 0), oidStr(OIDSNMP, 30, 0), oidStr(OIDSNMPEngine, 1, 0), oidStr(OIDSNMPEngine, 2, 0),
		"1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.7.0"})
	if err != nil {
		t.Fatal(err)
	}
	v := res.Variables
	if v[0].Value != uint(1) || v[1].Value != 2 || !bytes.Equal(v[2].Value.([]byte), e.EngineID()) ||
		v[3].Value != int(e.Boots()) || !bytes.HasPrefix(v[4].Value.([]byte), []byte("vmgate test ")) ||
		v[5].Value != DefaultSysObjectID || v[6].Value != 72 {
		t.Errorf("built-in values: %v", v)
	}
}

func TestTCP(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Listen = []string{"tcp:127.0.0.1:0", "udp6:[::1]:0"}
	e, err := New(cfg, WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Go(t, "Serve", e.Serve)
	<-e.Ready()
	addrs := e.Addrs()
	tcp := addrs[0].(*net.TCPAddr)
	x := &gosnmp.GoSNMP{Target: tcp.IP.String(), Port: uint16(tcp.Port), Transport: "tcp", Community: "public",
		Version: gosnmp.Version2c, Timeout: 2 * time.Second, Retries: 1, MaxOids: 60}
	connect(t, x)
	for range 3 { // several messages on one stream
		res, err := x.Get([]string{"1.3.6.1.2.1.1.5.0"})
		if err != nil || string(res.Variables[0].Value.([]byte)) != "gw1" {
			t.Fatalf("TCP Get: %v %v", res, err)
		}
	}
	u6 := addrs[1].(*net.UDPAddr)
	if u6.IP.To4() != nil {
		t.Fatalf("udp6 bound %v", u6)
	}
	res, err := v3client(t, u6, cfg.Users[1], "").Get([]string{"1.3.6.1.2.1.1.5.0"})
	if err != nil || string(res.Variables[0].Value.([]byte)) != "gw1" {
		t.Fatalf("IPv6 Get: %v %v", res, err)
	}
}
