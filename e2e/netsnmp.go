package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Numeric OIDs the tests use (no MIB files needed).
const (
	sysDescr                     = ".1.3.6.1.2.1.1.1.0"
	sysObjectID                  = ".1.3.6.1.2.1.1.2.0"
	sysUpTime                    = ".1.3.6.1.2.1.1.3.0"
	sysContact                   = ".1.3.6.1.2.1.1.4.0"
	sysName                      = ".1.3.6.1.2.1.1.5.0"
	systemGroup                  = ".1.3.6.1.2.1.1"
	snmpInPkts                   = ".1.3.6.1.2.1.11.1.0"
	snmpInBadCommunityNames      = ".1.3.6.1.2.1.11.4.0"
	snmpInASNParseErrs           = ".1.3.6.1.2.1.11.6.0"
	snmpEngineID                 = ".1.3.6.1.6.3.10.2.1.1.0"
	snmpEngineBoots              = ".1.3.6.1.6.3.10.2.1.2.0"
	snmpEngineTime               = ".1.3.6.1.6.3.10.2.1.3.0"
	snmpUnknownContexts          = ".1.3.6.1.6.3.12.1.5.0"
	usmStatsUnsupportedSecLevels = ".1.3.6.1.6.3.15.1.1.1.0"
	usmStatsNotInTimeWindows     = ".1.3.6.1.6.3.15.1.1.2.0"
	usmStatsUnknownUserNames     = ".1.3.6.1.6.3.15.1.1.3.0"
	usmStatsUnknownEngineIDs     = ".1.3.6.1.6.3.15.1.1.4.0"
	usmStatsWrongDigests         = ".1.3.6.1.6.3.15.1.1.5.0"
	usmStatsDecryptionErrors     = ".1.3.6.1.6.3.15.1.1.6.0"
)

// Cred is how a net-snmp command authenticates: Version "1", "2c" or "3". For v3 the
// security level follows from which protocols are set.
type Cred struct {
	Version   string
	Community string
	User      string
	AuthProto string // net-snmp -a name: MD5 SHA SHA-224 SHA-256 SHA-384 SHA-512
	AuthPass  string
	PrivProto string // net-snmp -x name: DES AES AES-192 AES-256 AES-192-C AES-256-C
	PrivPass  string
	Context   string // -n
}

// V1 and V2c return community credentials.
func V1(community string) Cred  { return Cred{Version: "1", Community: community} }
func V2c(community string) Cred { return Cred{Version: "2c", Community: community} }

// Level is the USM security level net-snmp's -l takes.
func (c Cred) Level() string {
	switch {
	case c.AuthProto == "":
		return "noAuthNoPriv"
	case c.PrivProto == "":
		return "authNoPriv"
	}
	return "authPriv"
}

// Args renders the credentials as net-snmp options.
func (c Cred) Args() []string {
	switch c.Version {
	case "1", "2c":
		return []string{"-v" + c.Version, "-c", c.Community}
	}
	a := []string{"-v3", "-u", c.User, "-l", c.Level(), "-n", c.Context}
	if c.AuthProto != "" {
		a = append(a, "-a", c.AuthProto, "-A", c.AuthPass)
	}
	if c.PrivProto != "" {
		a = append(a, "-x", c.PrivProto, "-X", c.PrivPass)
	}
	return a
}

func (c Cred) String() string {
	if c.Version != "3" {
		return "v" + c.Version + "/" + c.Community
	}
	return fmt.Sprintf("v3/%s/%s/%s+%s/ctx=%q", c.User, c.Level(), c.AuthProto, c.PrivProto, c.Context)
}

// Result is one net-snmp command's outcome. Err is set when it exited non-zero.
type Result struct {
	Args   []string
	Stdout string
	Stderr string
	Err    error
}

func (r Result) String() string {
	return fmt.Sprintf("%s: err=%v\nstdout:\n%s\nstderr:\n%s", strings.Join(r.Args, " "), r.Err, r.Stdout, r.Stderr)
}

// Output is stdout and stderr together, as a person would see them.
func (r Result) Output() string { return r.Stdout + r.Stderr }

// Vars parses stdout (printed with -On) into varbinds.
func (r Result) Vars() []Var { return ParseVars(r.Stdout) }

// endOfMibView is how net-snmp prints an endOfMibView exception.
const endOfMibView = "No more variables left in this MIB View"

// WalkVars is Vars without the endOfMibView marker net-snmp's walks print when the
// walked subtree is the last one in the agent's view (RFC 3416: the exception comes back
// under the requested name, which is inside the subtree).
func (r Result) WalkVars() []Var {
	vars := r.Vars()
	if n := len(vars); n > 0 && vars[n-1].Type == "" && strings.HasPrefix(vars[n-1].Value, endOfMibView) {
		vars = vars[:n-1]
	}
	return vars
}

// DefaultOpts are added to every command: numeric OIDs, numeric enums, no units, no retries (so counters move by exactly one per request), a generous
// timeout because the binary may run under the race detector.
var DefaultOpts = []string{"-On", "-Oe", "-OU", "-r", "0", "-t", "5"}

// Run runs a net-snmp tool against the gateway: tool DefaultOpts cred.Args() args...,
// where args start with any further options, then "--" is NOT needed: the agent address
// is inserted before the first argument that begins with "." or a digit (an OID).
func (g *Gateway) Run(t testing.TB, tool string, cred Cred, args ...string) Result {
	t.Helper()
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		i++
		if i < len(args) && needsValue(args[i-1]) {
			i++
		}
	}
	return g.run(cred, tool, args[:i], args[i:]...)
}

// needsValue reports whether a net-snmp option takes the next argument as its value.
func needsValue(opt string) bool {
	if len(opt) != 2 {
		return false // -Cr25, -On...: value attached
	}
	return strings.ContainsRune("aAxXuclnrtvCOImMEeZ", rune(opt[1]))
}

func (g *Gateway) run(cred Cred, tool string, opts []string, args ...string) Result {
	return g.RunAt(g.Addr, cred, tool, opts, args...)
}

// RunAt runs a net-snmp tool against another of the gateway's addresses (a net-snmp
// agent spec such as "tcp:127.0.0.1:1161" or "udp6:[::1]:1161"): options, then OIDs.
func (g *Gateway) RunAt(addr string, cred Cred, tool string, opts []string, args ...string) Result {
	all := append([]string{}, DefaultOpts...)
	all = append(all, cred.Args()...)
	all = append(all, opts...)
	all = append(all, addr)
	all = append(all, args...)
	return runTool(filepath.Join(g.Dir, "netsnmp"), tool, all...)
}

// toolTimeout bounds one net-snmp command, whatever its -t and -r.
const toolTimeout = 60 * time.Second

// runTool runs a net-snmp command with a private client state dir and no user config.
func runTool(stateDir, tool string, args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = append(os.Environ(),
		"SNMPCONFPATH="+stateDir, "SNMP_PERSISTENT_DIR="+stateDir, "MIBS=", "HOME="+stateDir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return Result{Args: append([]string{tool}, args...), Stdout: out.String(), Stderr: errb.String(), Err: err}
}

// Var is one varbind as net-snmp printed it.
type Var struct {
	OID   string // numeric, with a leading dot
	Type  string // "STRING", "INTEGER", "Counter32", "Timeticks", "OID", "Hex-STRING", ... ; "" for exceptions
	Value string // text after "Type: ", quotes removed from strings; exceptions: the message
}

// Uint parses the value as an unsigned number (counters, gauges, integers, and
// timeticks printed as "(123) 0:00:01.23").
func (v Var) Uint() (uint64, error) {
	s := strings.TrimSpace(v.Value)
	if strings.HasPrefix(s, "(") {
		s, _, _ = strings.Cut(s[1:], ")")
	}
	return strconv.ParseUint(s, 10, 64)
}

// Hex returns a Hex-STRING value as lowercase hex digits without spaces.
func (v Var) Hex() string {
	return strings.ToLower(strings.Join(strings.Fields(v.Value), ""))
}

// ParseVars parses net-snmp -On output lines ".1.3... = TYPE: value". Continuation lines
// of multi-line strings are joined to the previous value.
func ParseVars(s string) []Var {
	var vars []Var
	for _, line := range strings.Split(s, "\n") {
		oid, rest, ok := strings.Cut(line, " = ")
		if !ok || !strings.HasPrefix(oid, ".") {
			if len(vars) > 0 && line != "" {
				vars[len(vars)-1].Value += "\n" + line
			}
			continue
		}
		v := Var{OID: oid}
		if typ, val, ok := strings.Cut(rest, ": "); ok && !strings.Contains(typ, " ") {
			v.Type, v.Value = typ, val
		} else {
			v.Value = rest // "No Such Object available on this agent at this OID", "", ...
		}
		if v.Type == "STRING" && len(v.Value) >= 2 && v.Value[0] == '"' {
			v.Value = strings.TrimSuffix(v.Value[1:], `"`)
		}
		vars = append(vars, v)
	}
	return vars
}

// Get runs snmpget and fails the test unless it succeeds with one varbind per OID.
func (g *Gateway) Get(t testing.TB, cred Cred, oids ...string) []Var {
	t.Helper()
	r := g.Run(t, "snmpget", cred, oids...)
	if r.Err != nil {
		t.Fatalf("snmpget %s: %s", cred, r)
	}
	vars := r.Vars()
	if len(vars) != len(oids) {
		t.Fatalf("snmpget %s: want %d varbinds, got %d: %s", cred, len(oids), len(vars), r)
	}
	return vars
}

// Set runs snmpset with (oid, type, value) triples, net-snmp's type letters (i u t a o
// s x d b c g...); the caller checks the Result (success or "Reason: ...").
func (g *Gateway) Set(t testing.TB, cred Cred, triples ...string) Result {
	t.Helper()
	if len(triples)%3 != 0 {
		t.Fatalf("snmpset wants oid type value triples, got %q", triples)
	}
	return g.Run(t, "snmpset", cred, triples...)
}

// Counter reads one Counter32/Counter64/Gauge32/Integer/TimeTicks value by GET.
func (g *Gateway) Counter(t testing.TB, cred Cred, oid string) uint64 {
	t.Helper()
	v := g.Get(t, cred, oid)[0]
	n, err := v.Uint()
	if err != nil {
		t.Fatalf("%s: not a number: %+v", oid, v)
	}
	return n
}

// Walk runs snmpbulkwalk (snmpwalk for v1) under root and fails the test on error.
func (g *Gateway) Walk(t testing.TB, cred Cred, root string, opts ...string) []Var {
	t.Helper()
	tool := "snmpbulkwalk"
	if cred.Version == "1" {
		tool = "snmpwalk"
	}
	r := g.Run(t, tool, cred, append(opts, root)...)
	if r.Err != nil {
		t.Fatalf("%s %s: %s", tool, cred, r)
	}
	return r.WalkVars()
}

// ErrToolMissing is returned by NetSNMPMissing when a net-snmp command is not on PATH.
var ErrToolMissing = errors.New("net-snmp tool not found")

// NetSNMPMissing returns an error naming the first net-snmp tool not on PATH.
func NetSNMPMissing() error {
	for _, tool := range []string{"snmpget", "snmpgetnext", "snmpbulkwalk", "snmpwalk", "snmpset"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %s (apt-get install snmp)", ErrToolMissing, tool)
		}
	}
	return nil
}
