package e2e

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
)

// TestRestartKeepsEngineID: stop (or crash), start with the same state_dir: same
// snmpEngineID, snmpEngineBoots one higher (RFC 3414 section 2.2.2).
func TestRestartKeepsEngineID(t *testing.T) {
	g := Start(t, binary(t), baseConfig(t))
	read := func() (string, uint64) {
		vars := g.Get(t, admin.Cred(""), snmpEngineID, snmpEngineBoots)
		boots, err := vars[1].Uint()
		if err != nil || vars[0].Type != "Hex-STRING" {
			t.Fatalf("engine objects:\n%s", fmtVars(vars))
		}
		return vars[0].Hex(), boots
	}
	id1, boots1 := read()
	if len(id1) < 10 || boots1 < 1 {
		t.Fatalf("implausible engine ID %s / boots %d", id1, boots1)
	}
	for i := uint64(1); i <= 3; i++ {
		if i == 3 {
			g.Kill(t) // a crash must not lose the boot count either
		} else {
			g.Stop(t)
		}
		g.Start(t)
		id, boots := read()
		if id != id1 {
			t.Fatalf("restart %d: engine ID %s, was %s", i, id, id1)
		}
		if boots != boots1+i {
			t.Fatalf("restart %d: engineBoots %d, want %d", i, boots, boots1+i)
		}
	}
}

// TestGarbagePackets: datagrams that are not BER never crash the agent; each counts in
// snmpInASNParseErrs and the agent answers afterwards.
func TestGarbagePackets(t *testing.T) {
	g := Start(t, binary(t), baseConfig(t))
	rng := rand.New(rand.NewPCG(1, 2))
	var pkts [][]byte
	for range 40 { // random bytes; a first byte other than SEQUENCE makes them non-BER
		b := make([]byte, 1+rng.IntN(300))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		if b[0] == 0x30 {
			b[0] = 0x31
		}
		pkts = append(pkts, b)
	}
	valid := v2cGetPacket(t, "public")
	for n := 1; n < len(valid); n += 3 { // every truncation of a valid request
		pkts = append(pkts, valid[:n])
	}
	pkts = append(pkts,
		[]byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01},              // 2 GiB length
		[]byte{0x30, 0x89, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x01, 0x01},        // 9-byte length
		[]byte{0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00},                          // indefinite length
		[]byte{0x30, 0x06, 0x02, 0x84, 0xff, 0xff, 0xff, 0xff},                    // integer longer than its sequence
		[]byte{0x30, 0x0a, 0x02, 0x01, 0x01, 0x04, 0x7f, 'p', 'u', 'b', 'l', 'i'}, // string past the end
		[]byte{0x30, 0x00},             // empty sequence
		[]byte{0x30},                   // tag only
		[]byte{0x30, 0x03, 0x02, 0x01}, // short by one
	)
	// One datagram at a time, waiting for the count: the agent may shed a burst when its
	// workers are busy (UDP), which is not what this test is about.
	before := g.Counter(t, V2c("public"), snmpInASNParseErrs)
	want := before
	for i, p := range pkts {
		sendUDP(t, g, p)
		want++
		var got uint64
		testkit.Poll(60*time.Second, func() bool {
			got = g.Counter(t, V2c("public"), snmpInASNParseErrs)
			return got >= want || g.Exited()
		})
		if g.Exited() {
			t.Fatalf("vmgate exited on garbage packet %d % x:\n%s", i, p, g.Logs())
		}
		if got != want {
			t.Fatalf("packet %d (% x): snmpInASNParseErrs %d, want %d", i, p, got, want)
		}
	}
	g.Get(t, admin.Cred(""), sysUpTime)
}

// TestReloadOnSIGHUP: a community added to the file works after SIGHUP; a broken file
// is refused and the running config stays in force.
func TestReloadOnSIGHUP(t *testing.T) {
	g := Start(t, binary(t), baseConfig(t))
	added := V2c("added-by-reload")
	r := g.Run(t, "snmpget", added, "-t", "0.5", sysUpTime)
	mustFail(t, r)

	cfg := g.Config()
	cfg.Communities = append(cfg.Communities, Community{Community: "added-by-reload", Access: "read-only"})
	g.WriteConfig(t, cfg)
	g.Signal(t, syscall.SIGHUP)
	waitAnswers(t, g, added)

	off := g.LogLen()
	g.WriteConfigBytes(t, []byte("snmp:\n  listen: [this is not: valid yaml\n"))
	g.Signal(t, syscall.SIGHUP)
	g.WaitLog(t, off, "reload rejected: keeping the running configuration", 90*time.Second)
	g.Get(t, added, sysUpTime)
	g.Get(t, V2c("public"), sysUpTime)
	g.Get(t, admin.Cred(""), sysUpTime)

	off = g.LogLen()
	bad := cfg
	bad.Users = append(bad.Users, User{Name: "short", AuthProtocol: "SHA", AuthPassphrase: "short", Access: "read-only", Contexts: []string{""}})
	g.WriteConfig(t, bad) // valid YAML, invalid config: passphrase too short
	g.Signal(t, syscall.SIGHUP)
	g.WaitLog(t, off, "reload rejected: keeping the running configuration", 90*time.Second)
	g.Get(t, added, sysUpTime)
	if g.Exited() {
		t.Fatal("vmgate exited after a bad reload")
	}

	// Revocation: drop a community and change a user's passphrase; after the reload the
	// old secrets no longer work and the new passphrase does.
	revoked := cfg
	revoked.Communities = []Community{private, {Community: "added-by-reload", Access: "read-only"}}
	newReader := reader
	newReader.AuthPassphrase = "reader-auth-pass-2"
	revoked.Users = []User{admin, newReader}
	g.WriteConfig(t, revoked)
	off = g.LogLen()
	g.Signal(t, syscall.SIGHUP)
	g.WaitLog(t, off, "configuration reloaded", 90*time.Second)
	r = g.Run(t, "snmpget", V2c("public"), "-t", "0.5", sysUpTime)
	mustFail(t, r)
	mustContain(t, r, "Timeout: No Response")
	r = g.Run(t, "snmpget", reader.Cred(""), "-t", "10", sysUpTime) // answered (a Report): no short -t
	mustFail(t, r)
	mustContain(t, r, "Authentication failure (incorrect password, community or key)")
	g.Get(t, newReader.Cred(""), sysUpTime)
	g.Get(t, added, sysUpTime)
}

// waitAnswers polls until cred gets an answer for sysUpTime, for up to 90 s.
func waitAnswers(t *testing.T, g *Gateway, cred Cred) {
	t.Helper()
	var r Result
	if !testkit.Poll(90*time.Second, func() bool { r = g.Run(t, "snmpget", cred, "-t", "0.3", sysUpTime); return r.Err == nil }) {
		t.Fatalf("%s never answered: %s\n%s", cred, r, g.Logs())
	}
}
