package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/mib"
)

// Every auth x priv combination net-snmp 5.9 and vmgate both support. AES-192/AES-256 use
// the Blumenthal key extension (draft-blumenthal-aes-usm-04: net-snmp -x AES-192, gosnmp
// AES192, pysnmp usmAesBlumenthalCfb192Protocol); AES-192-C/AES-256-C the Reeder one
// (net-snmp -x AES-192-C, gosnmp AES192C, pysnmp usmAesCfb192Protocol, "Cisco").
var (
	authNames = []string{"MD5", "SHA", "SHA-224", "SHA-256", "SHA-384", "SHA-512"}
	privNames = []string{"", "DES", "AES", "AES-192", "AES-256", "AES-192-C", "AES-256-C"}
)

// hostCtx is the host (= SNMPv3 context) the fixtures configure: libvirt's test driver
// through the local libvirtd. The context exists whether or not libvirtd answers.
const hostCtx = "kvm-e2e"

// userName is a stable, readable user name for an auth/priv pair: "u-sha256-aes192c".
func userName(auth, priv string) string {
	n := "u-" + strings.ToLower(strings.ReplaceAll(auth, "-", ""))
	if priv != "" {
		n += "-" + strings.ToLower(strings.ReplaceAll(priv, "-", ""))
	}
	return n
}

// comboUser is a read-only user of every context with its own passphrases; priv "" is
// authNoPriv.
func comboUser(auth, priv string) User {
	u := User{
		Name: userName(auth, priv), AuthProtocol: auth, AuthPassphrase: "auth-" + userName(auth, priv),
		Access: "read-only", Contexts: []string{"*"},
	}
	if priv != "" {
		u.PrivProtocol, u.PrivPassphrase = priv, "priv-"+userName(auth, priv)
	}
	return u
}

// comboUsers returns one user per auth x priv pair, plus a noAuthNoPriv user first.
func comboUsers() []User {
	users := []User{{Name: "u-noauth", Access: "read-only", Contexts: []string{"*"}}}
	for _, a := range authNames {
		for _, p := range privNames {
			users = append(users, comboUser(a, p))
		}
	}
	return users
}

var (
	// admin may write everywhere; reader only reads, only the merged cluster.
	admin = User{
		Name: "admin", AuthProtocol: "SHA-256", AuthPassphrase: "admin-auth-pass",
		PrivProtocol: "AES", PrivPassphrase: "admin-priv-pass", Access: "read-write", Contexts: []string{"*"},
	}
	reader = User{
		Name: "reader", AuthProtocol: "SHA", AuthPassphrase: "reader-auth-pass",
		PrivProtocol: "AES", PrivPassphrase: "reader-priv-pass", Access: "read-only", Contexts: []string{""},
	}
	public  = Community{Community: "public", Access: "read-only", Context: ""}
	private = Community{Community: "private-rw", Access: "read-write", Context: ""}
)

// baseConfig is a gateway with the two communities, admin, reader and one host.
func baseConfig(t *testing.T, extraUsers ...User) Config {
	t.Helper()
	host, err := TestDriverHost(hostCtx, filepath.Join("testdata", "node.xml"))
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		SysName:     "vmgate-e2e",
		Communities: []Community{public, private},
		Users:       append([]User{admin, reader}, extraUsers...),
		Hosts:       []Host{host},
	}
}

// delta reads a counter before and after f and returns how much it grew.
func delta(t *testing.T, g *Gateway, oid string, f func()) uint64 {
	t.Helper()
	before := g.Counter(t, admin.Cred(""), oid)
	f()
	after := g.Counter(t, admin.Cred(""), oid)
	if after < before {
		t.Fatalf("%s went backwards: %d -> %d", oid, before, after)
	}
	return after - before
}

func mustContain(t *testing.T, r Result, want string) {
	t.Helper()
	if !strings.Contains(r.Output(), want) {
		t.Fatalf("want output containing %q, got %s", want, r)
	}
}

func mustFail(t *testing.T, r Result) {
	t.Helper()
	if r.Err == nil {
		t.Fatalf("want a failing command, got %s", r)
	}
}

func mustSucceed(t *testing.T, r Result) {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("want success, got %s", r)
	}
}

func varValue(t *testing.T, vars []Var, oid string) Var {
	t.Helper()
	for _, v := range vars {
		if v.OID == oid {
			return v
		}
	}
	t.Fatalf("%s not in %v", oid, vars)
	return Var{}
}

func fmtVars(vars []Var) string {
	var b strings.Builder
	for _, v := range vars {
		fmt.Fprintf(&b, "%s = %s: %s\n", v.OID, v.Type, v.Value)
	}
	return b.String()
}

// checkIncreasing fails t unless the OIDs of vars strictly increase, and returns how
// many of them are instances of the VIRTUAL-MACHINES-MIB.
func checkIncreasing(t *testing.T, vars []Var) (inModule int) {
	t.Helper()
	var prev []uint64
	for _, v := range vars {
		cur := oidNums(t, v.OID)
		if prev != nil && compareNums(cur, prev) <= 0 {
			t.Fatalf("walk not increasing at %s (after %v):\n%s", v.OID, prev, fmtVars(vars))
		}
		prev = cur
		if strings.HasPrefix(v.OID, mib.Root.String()+".") {
			inModule++
		}
	}
	return inModule
}

func oidNums(t *testing.T, oid string) []uint64 {
	t.Helper()
	parts := strings.Split(strings.TrimPrefix(oid, "."), ".")
	out := make([]uint64, len(parts))
	for i, p := range parts {
		if _, err := fmt.Sscan(p, &out[i]); err != nil {
			t.Fatalf("bad OID %q", oid)
		}
	}
	return out
}

func compareNums(a, b []uint64) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		switch {
		case a[i] < b[i]:
			return -1
		case a[i] > b[i]:
			return 1
		}
	}
	return len(a) - len(b)
}

// v2cGetPacket encodes a valid v2c GET of sysUpTime.0.
func v2cGetPacket(t *testing.T, community string) []byte {
	t.Helper()
	c := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: community, MaxOids: gosnmp.MaxOids}
	b, err := c.SnmpEncodePacket(gosnmp.GetRequest, []gosnmp.SnmpPDU{{Name: sysUpTime, Type: gosnmp.Null}}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sendUDP sends one datagram to the gateway without waiting for an answer.
func sendUDP(t *testing.T, g *Gateway, b []byte) {
	t.Helper()
	conn, err := net.Dial("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(g.Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
}
