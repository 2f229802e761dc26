package snmp

import (
	"context"
	"testing"

	"github.com/gosnmp/gosnmp"
)

func TestGetAcrossVersions(t *testing.T) {
	cfg := baseConfig(t)
	_, addr := startEngine(t, cfg)
	clients := map[string]*gosnmp.GoSNMP{
		"v1":            v2client(t, addr, "public", gosnmp.Version1),
		"v2c":           v2client(t, addr, "public", gosnmp.Version2c),
		"v3 authNoPriv": v3client(t, addr, cfg.Users[0], ""),
		"v3 authPriv":   v3client(t, addr, cfg.Users[1], ""),
		"v3 noAuth":     v3client(t, addr, cfg.Users[3], ""),
	}
	for name, x := range clients {
		t.Run(name, func(t *testing.T) {
			res, err := x.Get([]string{".1.3.6.1.2.1.1.5.0", oidStr(testRoot, 2, 2)})
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if res.Error != gosnmp.NoError {
				t.Fatalf("error status %v", res.Error)
			}
			if got := string(res.Variables[0].Value.([]byte)); got != "gw1" {
				t.Errorf("sysName = %q", got)
			}
			if got := res.Variables[1].Value.(int); got != 20 {
				t.Errorf("row 2 col 2 = %d", got)
			}
		})
	}
}

func TestAuthPrivMatrix(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Users = nil
	for _, a := range []string{"MD5", "SHA", "SHA-224", "SHA-256", "SHA-384", "SHA-512"} {
		for _, p := range []string{"", "DES", "AES", "AES-192", "AES-256", "AES-192-C", "AES-256-C"} {
			u := User{Name: a + "/" + p, AuthProtocol: a, AuthPassphrase: authPass, Access: ReadOnly, Contexts: []string{"*"}}
			if p != "" {
				u.PrivProtocol, u.PrivPassphrase = p, privPass
			}
			cfg.Users = append(cfg.Users, u)
		}
	}
	_, addr := startEngine(t, cfg)
	for _, u := range cfg.Users {
		t.Run(u.Name, func(t *testing.T) {
			x := v3client(t, addr, u, "kvm2")
			res, err := x.Get([]string{".1.3.6.1.2.1.1.6.0"})
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if res.Error != gosnmp.NoError || string(res.Variables[0].Value.([]byte)) != "rack 4" {
				t.Fatalf("got %v %v", res.Error, res.Variables)
			}
			// Wrong passphrases never get data.
			bad := u
			bad.AuthPassphrase = "wrong-pass-1"
			if _, err := v3client(t, addr, bad, "").Get([]string{".1.3.6.1.2.1.1.6.0"}); err == nil {
				t.Error("wrong auth passphrase: Get succeeded")
			}
		})
	}
}

func TestWalkOrderAndV1Counter64(t *testing.T) {
	cfg := baseConfig(t)
	_, addr := startEngine(t, cfg)
	tests := []struct {
		name     string
		x        *gosnmp.GoSNMP
		bulk     bool
		wantC64  bool
		wantRows int // instances under testRoot
	}{
		{"v1 walk", v2client(t, addr, "public", gosnmp.Version1), false, false, 9},
		{"v2c walk", v2client(t, addr, "public", gosnmp.Version2c), false, true, 10},
		{"v2c bulkwalk", v2client(t, addr, "public", gosnmp.Version2c), true, true, 10},
		{"v3 bulkwalk authPriv", v3client(t, addr, cfg.Users[1], ""), true, true, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			walk := tt.x.WalkAll
			if tt.bulk {
				walk = tt.x.BulkWalkAll
			}
			all, err := walk(".1.3")
			if err != nil {
				t.Fatalf("walk: %v", err)
			}
			var prev OID
			rows, c64 := 0, false
			for _, p := range all {
				o := MustOID(p.Name)
				if prev != nil && o.Compare(prev) <= 0 {
					t.Fatalf("walk not increasing: %s after %s", o, prev)
				}
				prev = o
				if o.HasPrefix(testRoot) {
					rows++
				}
				if p.Type == gosnmp.Counter64 {
					c64 = true
				}
			}
			if rows != tt.wantRows || c64 != tt.wantC64 {
				t.Errorf("rows %d (want %d), counter64 seen %v (want %v)", rows, tt.wantRows, c64, tt.wantC64)
			}
			if len(all) < 30 {
				t.Errorf("walk returned only %d varbinds", len(all))
			}
		})
	}
}

func TestGetExceptions(t *testing.T) {
	cfg := baseConfig(t)
	_, addr := startEngine(t, cfg)
	v1 := v2client(t, addr, "public", gosnmp.Version1)
	v2 := v2client(t, addr, "public", gosnmp.Version2c)
	tests := []struct {
		name      string
		x         *gosnmp.GoSNMP
		oids      []string
		wantErr   gosnmp.SNMPError
		wantIndex uint8
		wantTypes []gosnmp.Asn1BER
	}{
		{"v2c no such object", v2, []string{"1.3.6.1.2.1.1.1.0", "1.3.6.1.9.9"}, gosnmp.NoError, 0,
			[]gosnmp.Asn1BER{gosnmp.OctetString, gosnmp.NoSuchObject}},
		{"v2c no such instance", v2, []string{oidStr(testRoot, 2, 9)}, gosnmp.NoError, 0,
			[]gosnmp.Asn1BER{gosnmp.NoSuchInstance}},
		{"v2c scalar instance missing", v2, []string{"1.3.6.1.2.1.1.5.1"}, gosnmp.NoError, 0,
			[]gosnmp.Asn1BER{gosnmp.NoSuchInstance}},
		{"v2c counter64", v2, []string{oidStr(testRoot, 4, 1)}, gosnmp.NoError, 0,
			[]gosnmp.Asn1BER{gosnmp.Counter64}},
		{"v1 noSuchName index", v1, []string{"1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.5.0", oidStr(testRoot, 2, 9)},
			gosnmp.NoSuchName, 3, nil},
		{"v1 counter64 hidden", v1, []string{oidStr(testRoot, 4, 1)}, gosnmp.NoSuchName, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.x.Get(tt.oids)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if res.Error != tt.wantErr || res.ErrorIndex != tt.wantIndex {
				t.Fatalf("status %v index %d, want %v %d", res.Error, res.ErrorIndex, tt.wantErr, tt.wantIndex)
			}
			if tt.wantErr != gosnmp.NoError {
				if len(res.Variables) != len(tt.oids) {
					t.Errorf("v1 error response has %d varbinds, want the %d of the request", len(res.Variables), len(tt.oids))
				}
				return
			}
			for i, want := range tt.wantTypes {
				if res.Variables[i].Type != want {
					t.Errorf("varbind %d type %v, want %v", i+1, res.Variables[i].Type, want)
				}
			}
		})
	}
}

// badHandler answers with a value that does not fit its type.
type badHandler struct{}

func (badHandler) Get(_ context.Context, _ *Request, oid OID) VarBind {
	return VarBind{OID: oid, Type: gosnmp.Integer, Value: "not an int"}
}

func (badHandler) Next(context.Context, *Request, OID) (VarBind, bool) { return VarBind{}, false }

func TestUnencodableValueIsGenErr(t *testing.T) {
	e, addr := startEngine(t, baseConfig(t))
	root := MustOID("1.3.6.1.4.1.99999.7")
	e.Register(root, badHandler{})
	res, err := v2client(t, addr, "public", gosnmp.Version2c).Get([]string{"1.3.6.1.2.1.1.5.0", root.Append(1, 0).String()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.GenErr || res.ErrorIndex != 2 {
		t.Errorf("status %v index %d, want genErr 2", res.Error, res.ErrorIndex)
	}
	e.Unregister(root)
	res, err = v2client(t, addr, "public", gosnmp.Version2c).Get([]string{root.Append(1, 0).String()})
	if err != nil || res.Variables[0].Type != gosnmp.NoSuchObject {
		t.Errorf("after Unregister: %v %v", res, err)
	}
	if err := e.Serve(context.Background()); err == nil {
		t.Error("second Serve succeeded")
	}
}
