package snmp_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/vmgate/vmgate/snmp"
)

// hello serves one scalar, 1.3.6.1.4.1.99999.42.0, in every context.
type hello struct{}

var helloOID = snmp.MustOID("1.3.6.1.4.1.99999.42.0")

func (hello) Get(_ context.Context, r *snmp.Request, oid snmp.OID) snmp.VarBind {
	if oid.Compare(helloOID) != 0 {
		return snmp.VarBind{OID: oid, Type: gosnmp.NoSuchObject}
	}
	return snmp.VarBind{OID: oid, Type: gosnmp.OctetString, Value: "hello from context " + fmt.Sprintf("%q", r.Context)}
}

func (hello) Next(_ context.Context, _ *snmp.Request, oid snmp.OID) (snmp.VarBind, bool) {
	if oid.Compare(helloOID) >= 0 {
		return snmp.VarBind{}, false
	}
	return snmp.VarBind{OID: helloOID, Type: gosnmp.OctetString, Value: "hello"}, true
}

func Example() {
	dir, _ := os.MkdirTemp("", "snmp-example")
	defer os.RemoveAll(dir)
	cfg := snmp.Config{
		Listen:      []string{"udp:127.0.0.1:0"},
		StateDir:    dir,
		Communities: []snmp.Community{{Community: "public", Access: snmp.ReadOnly, Context: "kvm1"}},
	}
	e, err := snmp.New(cfg, snmp.WithLogger(slog.New(slog.DiscardHandler)), snmp.WithVersion("1.0"))
	if err != nil {
		fmt.Println(err)
		return
	}
	e.SetContexts([]string{"kvm1"})
	e.Register(snmp.MustOID("1.3.6.1.4.1.99999.42"), hello{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx) }()
	<-e.Ready()

	addr := e.Addrs()[0].(*net.UDPAddr)
	x := &gosnmp.GoSNMP{Target: addr.IP.String(), Port: uint16(addr.Port), Community: "public", Version: gosnmp.Version2c,
		Timeout: 2 * time.Second, Retries: 1}
	if err := x.Connect(); err != nil {
		fmt.Println(err)
		return
	}
	defer x.Conn.Close()
	res, err := x.Get([]string{helloOID.String()})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(res.Variables[0].Value.([]byte)))
	cancel()
	fmt.Println(<-done)
	// Output:
	// hello from context "kvm1"
	// <nil>
}
