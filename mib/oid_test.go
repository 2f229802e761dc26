package mib

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"
	"github.com/vmgate/vmgate/e2e/testkit"
)

// mibDirs returns the directory holding the standard MIB modules the module imports:
// $VMGATE_MIBDIRS (a colon-separated list), then ../shared/mibs beside the repository,
// then /usr/share/snmp/mibs; the first that has SNMPv2-SMI.txt. It skips the test
// loudly when none has.
func mibDirs(t *testing.T) string {
	t.Helper()
	var candidates []string
	if env := os.Getenv("VMGATE_MIBDIRS"); env != "" {
		candidates = append(candidates, filepath.SplitList(env)...)
	}
	if root, err := filepath.Abs(".."); err == nil {
		candidates = append(candidates, filepath.Join(root, "..", "shared", "mibs"))
	}
	candidates = append(candidates, "/usr/share/snmp/mibs")
	for _, d := range candidates {
		if _, err := os.Stat(filepath.Join(d, "SNMPv2-SMI.txt")); err == nil {
			return d
		}
	}
	t.Skipf("SKIPPING: no MIB directory with SNMPv2-SMI.txt among %q; set VMGATE_MIBDIRS", candidates)
	return ""
}

// moduleDir writes the embedded module text (exactly what the agent serves and
// --print-mib prints) into a fresh directory and returns it.
func moduleDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ModuleName+".txt"), ModuleText(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// snmptranslate runs net-snmp's snmptranslate on the module alone; stderr must be empty
// (net-snmp reports load problems there).
func snmptranslate(t *testing.T, args ...string) string {
	t.Helper()
	return snmptranslateModule(t, ModuleName, args...)
}

// snmptranslateModule is snmptranslate on module (this one, or a standard module of
// mibDirs such as VM-MIB).
func snmptranslateModule(t *testing.T, module string, args ...string) string {
	t.Helper()
	bin := testkit.NeedTool(t, "snmptranslate")
	dirs := moduleDir(t) + ":" + mibDirs(t)
	cmd := exec.Command(bin, append([]string{"-M", dirs, "-m", module}, args...)...)
	tmp := t.TempDir()
	cmd.Env = append(os.Environ(), "MIBS=", "MIBDIRS=", "SNMPCONFPATH="+tmp, "SNMP_PERSISTENT_DIR="+tmp, "HOME="+tmp)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("snmptranslate %v: %v\n%s", args, err, stderr.String())
	}
	// net-snmp creates its persistent directory (here a fresh temporary one) on first
	// use and says so on stderr; that line is no load problem.
	problems := regexp.MustCompile(`(?m)^Created directory: .*\n?`).ReplaceAllString(stderr.String(), "")
	if problems != "" {
		t.Fatalf("snmptranslate %v wrote to stderr:\n%s", args, stderr.String())
	}
	return stdout.String()
}

func TestModuleTextMatchesFile(t *testing.T) {
	want, err := os.ReadFile(ModuleName + ".txt")
	if err != nil {
		t.Fatal(err)
	}
	got := ModuleText()
	if !bytes.Equal(got, want) {
		t.Fatal("ModuleText differs from " + ModuleName + ".txt")
	}
	got[0] = 'X' // a copy: must not change the embedded text
	if ModuleText()[0] == 'X' {
		t.Fatal("ModuleText returns the embedded slice itself")
	}
}

func TestSmilintClean(t *testing.T) {
	bin := testkit.NeedTool(t, "smilint")
	dir := moduleDir(t)
	cmd := exec.Command(bin, "-l", "6", "-s", filepath.Join(dir, ModuleName+".txt"))
	cmd.Env = append(os.Environ(), "SMIPATH="+dir+":"+mibDirs(t))
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("smilint -l 6 -s: err=%v, output:\n%s", err, out)
	}
}

// TestOIDsMatchNetSNMP checks both ways that the Go registry and net-snmp agree on every
// named node under the root: every node net-snmp loaded is known to Go with the same
// OID, and every Go name resolves (-On) to the Go OID.
func TestOIDsMatchNetSNMP(t *testing.T) {
	goNodes := nodes()
	line := regexp.MustCompile(`^"([^"]+)"\s+"([0-9.]+)"$`)
	seen := map[string]bool{}
	for _, l := range strings.Split(snmptranslate(t, "-Tz"), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil || !strings.HasPrefix(m[2]+".", strings.TrimPrefix(Root.String(), ".")+".") {
			continue
		}
		name, oid := m[1], "."+m[2]
		seen[name] = true
		got, ok := goNodes[name]
		switch {
		case !ok:
			t.Errorf("%s (%s) is in the MIB but not in the Go registry", name, oid)
		case got.String() != oid:
			t.Errorf("%s: Go %s, MIB %s", name, got, oid)
		}
	}
	if len(seen) == 0 {
		t.Fatal("net-snmp listed no node under the root: module not loaded?")
	}

	names := make([]string, 0, len(goNodes))
	for n := range goNodes {
		names = append(names, n)
	}
	slices.Sort(names)
	args := []string{"-On"}
	for _, n := range names {
		args = append(args, ModuleName+"::"+n)
	}
	var oids []string
	for _, l := range strings.Split(snmptranslate(t, args...), "\n") {
		if l != "" {
			oids = append(oids, l)
		}
	}
	if len(oids) != len(names) {
		t.Fatalf("snmptranslate -On gave %d OIDs for %d names", len(oids), len(names))
	}
	for i, n := range names {
		if want := goNodes[n].String(); oids[i] != want {
			t.Errorf("%s: MIB %s, Go %s", n, oids[i], want)
		}
	}
}

// definition is what the test reads from snmptranslate -Td.
type definition struct {
	syntax, access, index string
}

// parseDefinitions splits snmptranslate -On -Td output into definitions by OID.
func parseDefinitions(out string) map[string]definition {
	defs := map[string]definition{}
	var oid string
	var d definition
	inDesc := false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case inDesc:
			inDesc = strings.Count(l, `"`)%2 == 0
		case strings.HasPrefix(l, "."):
			if oid != "" {
				defs[oid] = d
			}
			oid, d = l, definition{}
		case strings.HasPrefix(l, "  DESCRIPTION\t"):
			inDesc = strings.Count(l, `"`)%2 == 1
		case strings.HasPrefix(l, "  SYNTAX\t"):
			d.syntax = strings.TrimSpace(strings.TrimPrefix(l, "  SYNTAX\t"))
		case strings.HasPrefix(l, "  MAX-ACCESS\t"):
			d.access = strings.TrimSpace(strings.TrimPrefix(l, "  MAX-ACCESS\t"))
		case strings.HasPrefix(l, "  INDEX\t"):
			d.index = strings.TrimSpace(strings.TrimPrefix(l, "  INDEX\t"))
		}
	}
	if oid != "" {
		defs[oid] = d
	}
	return defs
}

func berOf(syntax string) gosnmp.Asn1BER {
	for prefix, ber := range map[string]gosnmp.Asn1BER{
		"INTEGER": gosnmp.Integer, "OCTET STRING": gosnmp.OctetString,
		"Unsigned32": gosnmp.Gauge32, "Gauge32": gosnmp.Gauge32,
		"Counter32": gosnmp.Counter32, "Counter64": gosnmp.Counter64, "TimeTicks": gosnmp.TimeTicks,
	} {
		if strings.HasPrefix(syntax, prefix) {
			return ber
		}
	}
	return gosnmp.UnknownType
}

var rangeRe = regexp.MustCompile(`^[A-Za-z0-9 ]+ \((-?[0-9]+)\.\.(-?[0-9]+)\)`)

// limitOf returns the single range of a SYNTAX as snmptranslate -Td shows it, e.g.
// "OCTET STRING (1..255)"; zero for none (or a list like "(0 | 16)").
func limitOf(syntax string) Limit {
	m := rangeRe.FindStringSubmatch(syntax)
	if m == nil {
		return Limit{}
	}
	lo, _ := strconv.ParseInt(m[1], 10, 64)
	hi, _ := strconv.ParseInt(m[2], 10, 64)
	return Limit{lo, hi}
}

var enumItem = regexp.MustCompile(`([A-Za-z][A-Za-z0-9-]*)\((-?[0-9]+)\)`)

// TestDefinitionsMatchNetSNMP checks, for every column and scalar, the BER type, the
// MAX-ACCESS, each entry's INDEX and every enumeration's labels against net-snmp.
func TestDefinitionsMatchNetSNMP(t *testing.T) {
	type object struct {
		name   string
		ber    gosnmp.Asn1BER
		access Access
		limit  Limit
	}
	var objs []object
	for _, s := range Scalars() {
		objs = append(objs, object{s.Name, s.Type, s.Access, s.Limit})
	}
	args := []string{"-On", "-Td"}
	for _, tb := range Tables() {
		args = append(args, ModuleName+"::"+tb.EntryName)
		for _, c := range tb.Columns {
			objs = append(objs, object{c.Name, c.Type, c.Access, c.Limit})
		}
	}
	for _, o := range objs {
		args = append(args, ModuleName+"::"+o.name)
	}
	defs := parseDefinitions(snmptranslate(t, args...))
	oidOf := nodes()
	enums := enumLabels()

	for _, tb := range Tables() {
		want := "{ " + strings.Join(tb.Index, ", ") + " }"
		if got := defs[tb.Entry().String()].index; got != want {
			t.Errorf("%s INDEX: MIB %q, Go %q", tb.EntryName, got, want)
		}
	}
	for _, o := range objs {
		d, ok := defs[oidOf[o.name].String()]
		if !ok {
			t.Errorf("%s: no definition from net-snmp", o.name)
			continue
		}
		if got := berOf(d.syntax); got != o.ber {
			t.Errorf("%s: MIB SYNTAX %q is %v, Go has %v", o.name, d.syntax, got, o.ber)
		}
		if d.access != o.access.String() {
			t.Errorf("%s: MIB MAX-ACCESS %q, Go %v", o.name, d.access, o.access)
		}
		if got := limitOf(d.syntax); o.access.Writable() && got != o.limit || !o.access.Writable() && o.limit != (Limit{}) {
			t.Errorf("%s: MIB range %v (%q), Go limit %v", o.name, got, d.syntax, o.limit)
		}
		items := enumItem.FindAllStringSubmatch(d.syntax, -1)
		labels, isEnum := enums[o.name]
		if len(items) > 0 != isEnum {
			t.Errorf("%s: MIB enumeration %v, Go enumeration %v", o.name, len(items) > 0, isEnum)
			continue
		}
		mibLabels := map[int]string{}
		for _, it := range items {
			v, _ := strconv.Atoi(it[2])
			mibLabels[v] = it[1]
		}
		if isEnum && !mapsEqual(mibLabels, labels) {
			t.Errorf("%s: MIB labels %v, Go %v", o.name, mibLabels, labels)
		}
	}
}

func mapsEqual(a, b map[int]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestNotificationObjects checks the Go lists against the MIB's OBJECTS clauses.
func TestNotificationObjects(t *testing.T) {
	notes := []*Notification{VmStateChange, HostConnectionChange, ReplicaChange}
	args := []string{"-Td"}
	for _, n := range notes {
		args = append(args, ModuleName+"::"+n.Name)
	}
	out := snmptranslate(t, args...)
	objects := regexp.MustCompile(`(?s)OBJECTS\s*\{([^}]*)\}`).FindAllStringSubmatch(out, -1)
	if len(objects) != len(notes) {
		t.Fatalf("found %d OBJECTS clauses in:\n%s", len(objects), out)
	}
	for i, n := range notes {
		var got []string
		for _, f := range strings.Split(objects[i][1], ",") {
			got = append(got, strings.TrimSpace(f))
		}
		if !slices.Equal(got, n.Objects) {
			t.Errorf("%s OBJECTS: MIB %v, Go %v", n.Name, got, n.Objects)
		}
	}
}

// TestPysmiCompiles compiles the module with pysmi (what pysnmp-based managers use).
func TestPysmiCompiles(t *testing.T) {
	bin := testkit.NeedTool(t, "mibdump")
	out := t.TempDir()
	cmd := exec.Command(bin, "--mib-source=file://"+moduleDir(t), "--mib-source=file://"+mibDirs(t),
		"--destination-directory="+out, "--no-python-compile", "--rebuild", ModuleName)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mibdump: %v\n%s", err, b)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f, ok := strings.CutPrefix(strings.TrimSpace(l), "Failed MIBs:"); ok && strings.TrimSpace(f) != "" {
			t.Fatalf("mibdump failed:\n%s", b)
		}
	}
	if _, err := os.Stat(filepath.Join(out, ModuleName+".py")); err != nil {
		t.Fatalf("mibdump wrote no %s.py: %v\n%s", ModuleName, err, b)
	}
}
