package snmp

import (
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
