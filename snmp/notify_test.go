package snmp

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

const receiverEngineID = "\x80\x00\x1f\x88\x04receiver"

// freeUDPPort finds a port for gosnmp's TrapListener, which cannot report port 0.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func usmParams(u User) *gosnmp.UsmSecurityParameters {
	auth, _ := authProtocol(u.AuthProtocol)
	priv, _ := privProtocol(u.PrivProtocol)
	return &gosnmp.UsmSecurityParameters{UserName: u.Name, AuthoritativeEngineID: receiverEngineID,
		AuthenticationProtocol: auth, AuthenticationPassphrase: string(u.AuthPassphrase),
		PrivacyProtocol: priv, PrivacyPassphrase: string(u.PrivPassphrase)}
}

// trapReceiver runs a gosnmp TrapListener and counts what it receives by kind.
type trapReceiver struct {
	mu  sync.Mutex
	got map[string]int
}

func (r *trapReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.got {
		n += c
	}
	return n
}

func startReceiver(t *testing.T, r *trapReceiver, params *gosnmp.GoSNMP) string {
	t.Helper()
	port := freeUDPPort(t)
	tl := gosnmp.NewTrapListener()
	tl.Params = params
	tl.OnNewTrap = func(p *gosnmp.SnmpPacket, _ *net.UDPAddr) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(p.Variables) < 3 || p.Variables[1].Value != ".1.3.6.1.4.1.99999.0.1" ||
			p.Variables[2].Name != oidStr(testRoot, 2, 1) {
			t.Errorf("notification varbinds: %v", p.Variables)
			return
		}
		key := p.Version.String()
		if p.PDUType == gosnmp.InformRequest {
			key += " inform"
		}
		r.got[key]++
	}
	errc := make(chan error, 1)
	go func() { errc <- tl.Listen("127.0.0.1:" + strconv.Itoa(port)) }()
	select {
	case <-tl.Listening():
	case err := <-errc:
		t.Fatalf("trap listener: %v", err)
	}
	t.Cleanup(tl.Close)
	return "udp:127.0.0.1:" + strconv.Itoa(port)
}

func TestNotify(t *testing.T) {
	cfg := baseConfig(t)
	rcv := &trapReceiver{got: map[string]int{}}
	// Traps: several users, looked up by name (the listener is not authoritative).
	table := gosnmp.NewSnmpV3SecurityParametersTable(gosnmp.NewLogger(nil))
	for _, u := range cfg.Users[:2] {
		if err := table.Add(u.Name, usmParams(u)); err != nil {
			t.Fatal(err)
		}
	}
	traps := startReceiver(t, rcv, &gosnmp.GoSNMP{Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel,
		MsgFlags: gosnmp.AuthPriv, TrapSecurityParametersTable: table})
	// Informs: the receiver is authoritative and answers discovery with its engine ID.
	informs := startReceiver(t, rcv, &gosnmp.GoSNMP{Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel,
		MsgFlags: gosnmp.AuthNoPriv, SecurityParameters: usmParams(cfg.Users[0])})
	cfg.Notify = []Target{
		{Address: traps, Version: "v2c", Community: "traps"},
		{Address: traps, Version: "v3", User: "rw"},
		{Address: informs, Version: "v3", User: "ro", Inform: true},
	}
	e, _ := startEngine(t, cfg)
	err := e.Notify(context.Background(), MustOID("1.3.6.1.4.1.99999.0.1"),
		[]VarBind{{OID: testRoot.Append(2, 1), Type: gosnmp.Integer, Value: 5}})
	if err != nil {
		t.Fatalf("Notify: %v", err)
	}
	// Traps are unconfirmed: poll until the receiver has counted them.
	for deadline := time.Now().Add(60 * time.Second); rcv.count() < 3 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.got["2c"] != 1 || rcv.got["3"] != 1 || rcv.got["3 inform"] != 1 {
		t.Errorf("received %v, want one v2c trap, one v3 trap and one v3 inform", rcv.got)
	}
}

func TestNotifyReportsUnreachableInform(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Notify = []Target{{Address: "udp:127.0.0.1:" + strconv.Itoa(freeUDPPort(t)), Version: "v3", User: "ro", Inform: true}}
	e, _ := startEngine(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Notify(ctx, MustOID("1.3.6.1.4.1.99999.0.1"), nil); err == nil {
		t.Error("Notify to a port nobody listens on succeeded")
	}
}
