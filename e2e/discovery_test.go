package e2e

import (
	"testing"
)

// TestV3Discovery: net-snmp's engine ID discovery probe draws exactly one
// usmStatsUnknownEngineIDs report (RFC 3414 section 4); given the engine ID with -e, an
// authenticated request first draws one usmStatsNotInTimeWindows report (time sync),
// and a noAuthNoPriv request neither. Counters are read over v2c so the readers add no
// v3 traffic.
func TestV3Discovery(t *testing.T) {
	users := comboUsers()
	g := Start(t, binary(t), baseConfig(t, users[0]))
	engineID := g.Get(t, V2c("public"), snmpEngineID)[0].Hex()
	cases := []struct {
		name                   string
		cred                   Cred
		opts                   []string
		unknownIDs, notInTimes uint64
	}{
		{"authPriv, discovery", admin.Cred(""), nil, 1, 0},
		{"authPriv, -e engineID", admin.Cred(""), []string{"-e", engineID}, 0, 1},
		{"noAuthNoPriv, discovery", users[0].Cred(""), nil, 1, 0},
		{"noAuthNoPriv, -e engineID", users[0].Cred(""), []string{"-e", engineID}, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			read := func() (uint64, uint64) {
				v := g.Get(t, V2c("public"), usmStatsUnknownEngineIDs, usmStatsNotInTimeWindows)
				a, err1 := v[0].Uint()
				b, err2 := v[1].Uint()
				if err1 != nil || err2 != nil {
					t.Fatalf("counters: %s", fmtVars(v))
				}
				return a, b
			}
			ids0, times0 := read()
			r := g.Run(t, "snmpget", c.cred, append(c.opts, sysUpTime)...)
			mustSucceed(t, r)
			ids1, times1 := read()
			if ids1-ids0 != c.unknownIDs || times1-times0 != c.notInTimes {
				t.Fatalf("usmStatsUnknownEngineIDs +%d (want +%d), usmStatsNotInTimeWindows +%d (want +%d)",
					ids1-ids0, c.unknownIDs, times1-times0, c.notInTimes)
			}
		})
	}
}
