package e2e

import (
	"strconv"
	"testing"
)

// TestTransports: the same agent answers v2c and v3 over UDP/IPv4, UDP/IPv6 and TCP.
func TestTransports(t *testing.T) {
	cfg := baseConfig(t)
	tcp := "tcp:127.0.0.1:" + strconv.Itoa(FreeTCPPort(t))
	udp6 := "udp6:[::1]:" + strconv.Itoa(FreeUDPPort(t))
	cfg.ExtraListen = []string{tcp, udp6}
	g := Start(t, binary(t), cfg)
	for _, addr := range []string{g.Addr, tcp, udp6} {
		for _, cred := range []Cred{V2c("public"), admin.Cred("")} {
			t.Run(addr+"/"+cred.String(), func(t *testing.T) {
				r := g.RunAt(addr, cred, "snmpget", nil, sysUpTime, sysName)
				mustSucceed(t, r)
				if v := r.Vars(); len(v) != 2 || v[1].Value != "vmgate-e2e" {
					t.Fatalf("unexpected answer: %s", r)
				}
				r = g.RunAt(addr, cred, "snmpbulkwalk", []string{"-Cr25"}, systemGroup)
				mustSucceed(t, r)
				checkSortedUnder(t, r.WalkVars(), systemGroup)
			})
		}
	}
}
