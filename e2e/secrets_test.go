package e2e

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
)

// Credentials of TestNoSecretInLogs: each string is distinctive, so finding it (or an
// encoding of it) anywhere in the daemon's output can only mean it leaked.
var (
	sxRO     = Community{Community: "ro-COMM-7f3a91", Access: "read-only", Context: ""}
	sxRW     = Community{Community: "rw-COMM-c42e05", Access: "read-write", Context: hostCtx}
	sxAdmin  = User{Name: "sx-admin", AuthProtocol: "SHA-256", AuthPassphrase: "sx-admin-AUTH-5e81", PrivProtocol: "AES", PrivPassphrase: "sx-admin-PRIV-a3c6", Access: "read-write", Contexts: []string{"*"}}
	sxReader = User{Name: "sx-reader", AuthProtocol: "SHA", AuthPassphrase: "sx-reader-AUTH-d09f", Access: "read-only", Contexts: []string{""}}
	sxTraps  = User{Name: "sx-traps", AuthProtocol: "SHA-512", AuthPassphrase: "sx-traps-AUTH-41b7", PrivProtocol: "AES-256", PrivPassphrase: "sx-traps-PRIV-9e20", Access: "read-only", Contexts: []string{""}}
)

// Strings that reach vmgate only in the broken config of the rejected reload, or from a
// manager guessing: they must not be logged either.
const (
	sxTrapCommunity = "trap-COMM-2b8e"
	sxURIPassword   = "uri-PASS-6d3f"
	sxURIOption     = "uri-TOKEN-0a5c"
	sxURIBadPort    = "uri-PASS-77e1"
	sxShortPass     = "Sh0rt-7"
	sxWrongComm     = "wrong-COMM-88d1"
	sxWrongAuth     = "wrong-AUTH-3f6b"
	sxWrongPriv     = "wrong-PRIV-c8a2"
)

// TestNoSecretInLogs runs a broad session against a gateway at debug level (the effective
// configuration and the host URIs are logged) and then looks for every secret of its
// configuration, and of a broken configuration a SIGHUP rejected, in every line the
// daemon wrote and in --check's output, raw and hex/base64/URL-encoded. The MIB walks'
// output must not hold one either.
func TestNoSecretInLogs(t *testing.T) {
	if err := LibvirtMissing(); err != nil {
		t.Skipf("SKIPPING secrets in logs (the SETs need a VM): %v", err)
	}
	host, err := TestDriverHost(hostCtx, filepath.Join("testdata", "node.xml"))
	if err != nil {
		t.Fatal(err)
	}
	sink := notifySink(t)
	cfg := Config{
		SysName:     "vmgate-secrets",
		Communities: []Community{sxRO, sxRW},
		Users:       []User{sxAdmin, sxReader, sxTraps},
		Hosts:       []Host{host},
		ExtraListen: []string{"tcp:127.0.0.1:" + strconv.Itoa(testkit.FreeTCPPort(t))},
		Notify: []map[string]any{
			{"address": sink, "version": "v2c", "community": sxTrapCommunity},
			{"address": sink, "version": "v3", "user": sxTraps.Name, "inform": true},
		},
	}
	g := Start(t, binary(t), cfg)
	var mib strings.Builder // what managers read: no secret there either
	waitHostUp(t, g, sxAdmin.Cred(""), 60*time.Second)

	secretSession(t, g, cfg, &mib)
	secretSets(t, g)
	checkOut := secretReloads(t, g, cfg, host)
	mib.WriteString(g.Run(t, "snmpbulkwalk", sxAdmin.Cred(hostCtx), ".1.3.6.1").Stdout)
	g.Stop(t)

	logs := g.Logs()
	for _, want := range []string{"effective configuration", host.URI, "reload rejected", "configuration reloaded"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q: the session did not cover what it should", want)
		}
	}
	secrets := configSecrets(cfg)
	for s, where := range map[string]string{
		sxURIPassword: "the rejected hosts[1] uri's password", sxURIOption: "the rejected hosts[2] uri's password=",
		sxURIBadPort: "the rejected hosts[3] uri's password", sxShortPass: "the rejected sx-short auth_passphrase",
		sxWrongComm: "a wrong community", sxWrongAuth: "a wrong auth passphrase", sxWrongPriv: "a wrong priv passphrase",
	} {
		secrets[s] = where
	}
	findSecrets(t, "vmgate log", logs, secrets)
	findSecrets(t, "--check output", checkOut, secrets)
	findSecrets(t, "MIB walks", mib.String(), secrets)
}

// secretSession: reads by every principal on both contexts and both transports, and
// every way of getting the credentials wrong.
func secretSession(t *testing.T, g *Gateway, cfg Config, mib *strings.Builder) {
	t.Helper()
	for _, cred := range []Cred{V1(sxRO.Community), V2c(sxRO.Community), V2c(sxRW.Community),
		sxAdmin.Cred(""), sxAdmin.Cred(hostCtx), sxReader.Cred(""), sxTraps.Cred("")} {
		g.Get(t, cred, sysUpTime, sysName)
		for _, v := range g.Walk(t, cred, ".1.3.6.1") {
			fmt.Fprintf(mib, "%s = %s\n", v.OID, v.Value)
		}
	}
	tcp := cfg.ExtraListen[0]
	for _, cred := range []Cred{V2c(sxRO.Community), sxAdmin.Cred(hostCtx)} {
		mustSucceed(t, g.RunAt(tcp, cred, "snmpget", nil, sysName))
	}
	wrongAuth, wrongPriv := sxAdmin.Cred(""), sxAdmin.Cred("")
	wrongAuth.AuthPass, wrongPriv.PrivPass = sxWrongAuth, sxWrongPriv
	unknown := sxAdmin.Cred("")
	unknown.User = "sx-nobody"
	noPriv := sxReader.Cred("")
	noPriv.PrivProto, noPriv.PrivPass = "AES", sxReader.AuthPassphrase
	otherCtx := sxReader.Cred(hostCtx)
	for _, c := range []struct {
		cred Cred
		want string
	}{
		{V1(sxWrongComm), "Timeout"},
		{V2c(sxWrongComm), "Timeout"},
		{wrongAuth, "Authentication failure"},
		{wrongPriv, "Decryption error"},
		{unknown, "Unknown user name"},
		{noPriv, "Unsupported security level"},
		{otherCtx, "authorizationError"},
	} {
		r := g.Run(t, "snmpget", c.cred, "-t", "1", sysName)
		mustFail(t, r)
		mustContain(t, r, c.want)
	}
	mustFail(t, g.RunAt(tcp, V2c(sxWrongComm), "snmpget", []string{"-t", "1"}, sysName))
}

// secretSets: SETs that succeed (by community and by user) and that fail in each way.
func secretSets(t *testing.T, g *Gateway) {
	t.Helper()
	admin := sxAdmin.Cred(hostCtx)
	var id uint32
	for _, v := range g.Walk(t, admin, inst(vmEntry, colVmName)) {
		if v.Value == "e2e-vm-1" {
			id = lastSub(t, v.OID)
		}
	}
	if id == 0 {
		t.Fatal("fixture VM e2e-vm-1 not listed")
	}
	state := inst(vmEntry, colVmState, id)
	mustSucceed(t, g.Set(t, V2c(sxRW.Community), state, "i", "4"))
	mustSucceed(t, g.Set(t, admin, state, "i", "2"))
	for _, c := range []struct {
		cred   Cred
		triple []string
		want   string
	}{
		{V2c(sxRO.Community), []string{sysName, "s", "x"}, "noAccess"},
		{V1(sxRW.Community), []string{sysName, "s", "x"}, "noSuchName"},
		{V2c(sxRW.Community), []string{sysUpTime, "t", "1"}, "notWritable"},
		{sxReader.Cred(""), []string{sysName, "s", "x"}, "noAccess"},
		{admin, []string{state, "s", "paused"}, "wrongType"},
		{admin, []string{state, "i", "99"}, "Reason:"},
		{V2c(sxRW.Community), []string{state, "i", "99"}, "Reason:"},
	} {
		r := g.Set(t, c.cred, c.triple...)
		mustFail(t, r)
		mustContain(t, r, c.want)
	}
}

// secretReloads: SIGHUP with a config whose URIs and passphrase are wrong in ways that
// quote them (rejected, every problem logged), --check of that file, then SIGHUP with a
// good one (applied, the effective configuration logged again). It returns --check's
// output.
func secretReloads(t *testing.T, g *Gateway, cfg Config, host Host) string {
	t.Helper()
	broken := cfg
	broken.Users = append(append([]User{}, cfg.Users...), User{Name: "sx-short", AuthProtocol: "SHA",
		AuthPassphrase: sxShortPass, Access: "read-only", Contexts: []string{""}})
	broken.Hosts = append(append([]Host{}, cfg.Hosts...),
		Host{Name: "sx-pw", URI: "qemu+ssh://root:" + sxURIPassword + "@kvm.example.net/system"},
		Host{Name: "sx-opt", URI: "qemu+tls://kvm.example.net/system?password=" + sxURIOption},
		Host{Name: "sx-port", URI: "qemu+ssh://root:" + sxURIBadPort + "@kvm.example.net:x/system"})
	off := g.LogLen()
	g.WriteConfig(t, broken)
	g.Signal(t, syscall.SIGHUP)
	g.WaitLog(t, off, "reload rejected", 30*time.Second)
	out, _ := exec.Command(g.Bin, "--check", "--config", g.ConfigPath).CombinedOutput()
	for _, name := range []string{`"sx-pw"`, `"sx-opt"`, `"sx-port"`, `"sx-short"`} {
		if !strings.Contains(string(out), name) {
			t.Errorf("--check of the broken config does not name %s:\n%s", name, out)
		}
	}

	good := cfg
	good.SysName = "vmgate-secrets-2"
	off = g.LogLen()
	g.WriteConfig(t, good)
	g.Signal(t, syscall.SIGHUP)
	g.WaitLog(t, off, "configuration reloaded", 30*time.Second)
	if got := g.Get(t, V2c(sxRO.Community), sysName)[0].Value; got != good.SysName {
		t.Errorf("sysName after the reload = %q", got)
	}
	return string(out)
}

// waitHostUp polls until every host reads connected(1) in hypervisorTable.
func waitHostUp(t *testing.T, g *Gateway, cred Cred, timeout time.Duration) {
	t.Helper()
	pollUntil(t, timeout, "hosts connected", func() string {
		r := g.Run(t, "snmpbulkwalk", cred, inst(hypervisorEntry, colHvConnState))
		vars := r.WalkVars()
		if r.Err != nil || len(vars) == 0 {
			return r.String()
		}
		for _, v := range vars {
			if v.Value != "1" {
				return r.String()
			}
		}
		return ""
	})
}

// notifySink is a UDP socket that takes the notifications and answers none (the informs
// are retried, then given up: more log lines to check).
func notifySink(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return "udp:" + c.LocalAddr().String()
}

// configSecrets maps every secret of cfg to where it is configured.
func configSecrets(cfg Config) map[string]string {
	m := map[string]string{}
	for i, c := range cfg.Communities {
		m[c.Community] = fmt.Sprintf("snmp.communities[%d]", i)
	}
	for _, u := range cfg.Users {
		if u.AuthPassphrase != "" {
			m[u.AuthPassphrase] = u.Name + " auth_passphrase"
		}
		if u.PrivPassphrase != "" {
			m[u.PrivPassphrase] = u.Name + " priv_passphrase"
		}
	}
	for i, n := range cfg.Notify {
		if c, ok := n["community"].(string); ok {
			m[c] = fmt.Sprintf("snmp.notify[%d].community", i)
		}
	}
	return m
}

// encoding is one form a secret could take in a log line.
type encoding struct {
	name string
	enc  func([]byte) string
}

var encodings = []encoding{
	{"raw", func(b []byte) string { return string(b) }},
	{"hex", hex.EncodeToString},
	{"HEX", func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }},
	{"base64", base64.RawStdEncoding.EncodeToString},
	{"base64url", base64.RawURLEncoding.EncodeToString},
	{"url-escape", func(b []byte) string { return url.QueryEscape(string(b)) }},
}

// findSecrets fails for every line of text that holds a secret in any encoding, naming
// the secret's place in the config and the line with the secret masked.
func findSecrets(t *testing.T, what, text string, secrets map[string]string) {
	t.Helper()
	for n, line := range strings.Split(text, "\n") {
		for s, where := range secrets {
			seen := map[string]bool{}
			for _, e := range encodings {
				v := e.enc([]byte(s))
				if !seen[v] && strings.Contains(line, v) {
					t.Errorf("%s line %d holds %s (%s): %s", what, n+1, where, e.name,
						strings.ReplaceAll(line, v, "<"+where+">"))
				}
				seen[v] = true
			}
		}
	}
}
