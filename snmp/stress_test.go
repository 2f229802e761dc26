package snmp

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// slowHandler answers 5 after 5 ms (not a synchronisation: a reader kept busy).
type slowHandler struct{}

func (slowHandler) Get(_ context.Context, _ *Request, oid OID) VarBind {
	time.Sleep(5 * time.Millisecond)
	return VarBind{OID: oid, Type: gosnmp.Integer, Value: 5}
}

func (slowHandler) Next(context.Context, *Request, OID) (VarBind, bool) { return VarBind{}, false }

// TestConcurrentServing runs v3 walks (AES and DES, SHA-256 and MD5) and v2c walks in
// several contexts, SETs, slow GETs that make readers hand over, and reloads at once: every answer must be right (pooled
// buffers, HMACs and cipher state of one request never show in another's), and the
// race detector watches the pools, the SET replay cache and the readers.
func TestConcurrentServing(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Workers = 4
	cfg.Users = append(cfg.Users, User{Name: "des", AuthProtocol: "MD5", AuthPassphrase: authPass,
		PrivProtocol: "DES", PrivPassphrase: privPass, Access: ReadWrite, Contexts: []string{"*"}})
	e, addr := startEngine(t, cfg)
	want := map[string]string{}
	for _, vb := range newTableHandler().sorted() {
		if vb.OID[len(testRoot)] != 2 { // column 2 is written below
			want[vb.OID.String()] = fmt.Sprint(vb.Value)
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	walk := func(x *gosnmp.GoSNMP) {
		for range 30 {
			got := map[string]string{}
			err := x.BulkWalk(testRoot.String(), func(p gosnmp.SnmpPDU) error {
				got[p.Name] = fmt.Sprint(p.Value)
				return nil
			})
			if err != nil {
				errs <- fmt.Errorf("%s walk: %w", x.ContextName, err)
				return
			}
			for o, v := range want {
				if o != testRoot.Append(4, 1).String() && got[o] != v {
					errs <- fmt.Errorf("walk in %q: %s = %q, want %q", x.ContextName, o, got[o], v)
					return
				}
			}
		}
	}
	for i, c := range []string{"", "kvm1", "kvm2"} {
		for _, u := range []User{cfg.Users[1], cfg.Users[4]} {
			x := v3client(t, addr, u, c)
			x.MaxRepetitions = uint32(3 + i)
			wg.Go(func() { walk(x) })
		}
	}
	wg.Go(func() { walk(v2client(t, addr, "public", gosnmp.Version2c)) })
	slow := MustOID("1.3.6.1.4.1.99999.7") // keeps a reader over handoffDelay: readers take over
	e.Register(slow, slowHandler{})
	for range 2 {
		x := v2client(t, addr, "public", gosnmp.Version2c)
		wg.Go(func() {
			for range 20 {
				if r, err := x.Get([]string{slow.Append(0).String()}); err != nil || r.Variables[0].Value != 5 {
					errs <- fmt.Errorf("slow get: %w %v", err, r)
					return
				}
			}
		})
	}
	set := v3client(t, addr, cfg.Users[1], "")
	wg.Go(func() {
		for i := range 50 {
			pdu := gosnmp.SnmpPDU{Name: testRoot.Append(2, 1).String(), Type: gosnmp.Integer, Value: i % 90}
			r, err := set.Set([]gosnmp.SnmpPDU{pdu})
			if err != nil || r.Error != gosnmp.NoError {
				errs <- fmt.Errorf("set %d: %w %v", i, err, r)
				return
			}
		}
	})
	var reloads sync.WaitGroup
	reloads.Go(func() {
		for ctx.Err() == nil {
			if err := e.Reload(cfg); err != nil {
				errs <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	wg.Wait()
	stop()
	reloads.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
