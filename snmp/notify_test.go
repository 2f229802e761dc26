package snmp

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/e2e/testkit"
)

const receiverEngineID = "\x80\x00\x1f\x88\x04receiver"

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
	port := testkit.FreeUDPPort(t)
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
	trapParams := &gosnmp.GoSNMP{Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel, MsgFlags: gosnmp.AuthPriv}
	trapParams.SetTrapSecurityParametersTable(table)
	traps := startReceiver(t, rcv, trapParams)
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
	cfg.Notify = []Target{{Address: "udp:127.0.0.1:" + strconv.Itoa(testkit.FreeUDPPort(t)), Version: "v3", User: "ro", Inform: true}}
	e, _ := startEngine(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Notify(ctx, MustOID("1.3.6.1.4.1.99999.0.1"), nil); err == nil {
		t.Error("Notify to a port nobody listens on succeeded")
	}
}

// udpProxy forwards datagrams between one client at a time and a target it can
// change, counting what the client sent.
type udpProxy struct {
	pc     net.PacketConn
	mu     sync.Mutex
	target *net.UDPAddr
	client net.Addr
	sent   int
	drop   []byte // client datagrams holding these bytes are dropped (counted)
}

func startProxy(t *testing.T) *udpProxy {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &udpProxy{pc: pc}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			p.mu.Lock()
			to := net.Addr(p.target)
			if from.String() == p.target.String() {
				to = p.client
			} else {
				p.client, p.sent = from, p.sent+1
				if p.drop != nil && bytes.Contains(buf[:n], p.drop) {
					to = nil
				}
			}
			p.mu.Unlock()
			if to != nil {
				pc.WriteTo(buf[:n], to)
			}
		}
	}()
	return p
}

func (p *udpProxy) setTarget(t *testing.T, addr string) {
	t.Helper()
	a, err := net.ResolveUDPAddr("udp4", addr[len("udp:"):])
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.target = a
	p.mu.Unlock()
}

func (p *udpProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent
}

// TestNotifyInformRemembersReceiver: the second inform to a receiver goes out without
// a discovery (one datagram, not two). A receiver replaced by one with another engine ID
// that drops what carries the old one (silently) still gets the next inform: after the
// tries with the remembered engine ID, a fresh discovery; and the one after that needs
// no discovery again.
func TestNotifyInformRemembersReceiver(t *testing.T) {
	cfg := baseConfig(t)
	rcv := &trapReceiver{got: map[string]int{}}
	listener := func(engineID string) string {
		sp := usmParams(cfg.Users[0])
		sp.AuthoritativeEngineID = engineID
		return startReceiver(t, rcv, &gosnmp.GoSNMP{Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel,
			MsgFlags: gosnmp.AuthNoPriv, SecurityParameters: sp})
	}
	proxy := startProxy(t)
	proxy.setTarget(t, listener(receiverEngineID))
	cfg.Notify = []Target{{Address: "udp:" + proxy.pc.LocalAddr().String(), Version: "v3", User: "ro", Inform: true}}
	e, _ := startEngine(t, cfg)
	notify := func() int {
		t.Helper()
		before := proxy.count()
		if err := e.Notify(context.Background(), MustOID("1.3.6.1.4.1.99999.0.1"),
			[]VarBind{{OID: testRoot.Append(2, 1), Type: gosnmp.Integer, Value: 5}}); err != nil {
			t.Fatalf("Notify: %v", err)
		}
		return proxy.count() - before
	}
	if n := notify(); n != 2 {
		t.Errorf("first inform took %d datagrams, want 2: discovery and inform", n)
	}
	if n := notify(); n != 1 {
		t.Errorf("second inform took %d datagrams, want 1: no discovery", n)
	}
	proxy.setTarget(t, listener("\x80\x00\x1f\x88\x04other-rcv"))
	proxy.mu.Lock()
	proxy.drop = []byte(receiverEngineID)
	proxy.mu.Unlock()
	// Shorter tries for the silent receiver (a slow answer to the rediscovery may add
	// tries: at least, not exactly).
	e.notifyTO = 300 * time.Millisecond
	if n := notify(); n < 1+notifyRetries+2 {
		t.Errorf("inform to the replaced receiver took %d datagrams, want at least %d: %d tries with the old engine ID, discovery, inform",
			n, 1+notifyRetries+2, 1+notifyRetries)
	}
	e.notifyTO = notifyTimeout
	if n := notify(); n != 1 {
		t.Errorf("inform after the rediscovery took %d datagrams, want 1", n)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.got["3 inform"] != 4 {
		t.Errorf("received %v, want 4 informs", rcv.got)
	}
}

// TestReloadForgetsInformReceivers: a reload drops what informs learnt, with the keys
// of the users it replaces.
func TestReloadForgetsInformReceivers(t *testing.T) {
	cfg := baseConfig(t)
	e, _ := startEngine(t, cfg)
	u := e.sec.Load().users["ro"]
	e.informs.m = map[informPeerKey]informPeer{{addr: "udp:127.0.0.1:9", u: u}: {engineID: "x"}}
	if err := e.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if len(e.informs.m) != 0 {
		t.Errorf("after Reload, %d inform receivers remembered", len(e.informs.m))
	}
}
