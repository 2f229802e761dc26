package mib

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"
)

// TestStdDefinitionsMatchNetSNMP checks VM-MIB's Go description against the RFC's
// module as net-snmp reads it: every scalar and column's OID, BER type and MAX-ACCESS,
// and each entry's INDEX.
func TestStdDefinitionsMatchNetSNMP(t *testing.T) {
	type object struct {
		name   string
		oid    string
		ber    gosnmp.Asn1BER
		access Access
	}
	var objs []object
	for _, s := range StdScalars() {
		objs = append(objs, object{s.Name, s.OID.String(), s.Type, s.Access})
	}
	args := []string{"-On", "-Td"}
	for _, tb := range StdTables() {
		args = append(args, StdModuleName+"::"+tb.EntryName)
		for _, c := range tb.Columns {
			objs = append(objs, object{c.Name, tb.Entry().Append(c.Num).String(), c.Type, c.Access})
		}
	}
	for _, o := range objs {
		args = append(args, StdModuleName+"::"+o.name)
	}
	defs := parseDefinitions(snmptranslateModule(t, StdModuleName, args...))
	for _, tb := range StdTables() {
		want := "{ " + strings.Join(tb.Index, ", ") + " }"
		if got := defs[tb.Entry().String()].index; got != want {
			t.Errorf("%s INDEX: MIB %q, Go %q", tb.EntryName, got, want)
		}
	}
	ber := func(syntax string) gosnmp.Asn1BER {
		switch {
		case strings.HasPrefix(syntax, "Integer32"):
			return gosnmp.Integer
		case strings.HasPrefix(syntax, "OBJECT IDENTIFIER"):
			return gosnmp.ObjectIdentifier
		}
		return berOf(syntax)
	}
	for _, o := range objs {
		d, ok := defs[o.oid]
		if !ok {
			t.Errorf("%s: no definition from net-snmp at %s", o.name, o.oid)
			continue
		}
		if got := ber(d.syntax); got != o.ber && o.access != NotAccessible {
			t.Errorf("%s: MIB SYNTAX %q is %v, Go has %v", o.name, d.syntax, got, o.ber)
		}
		if d.access != o.access.String() {
			t.Errorf("%s: MIB MAX-ACCESS %q, Go %v", o.name, d.access, o.access)
		}
	}
}

// TestStdGroupsMatchText checks StdObjectGroups against the OBJECT-GROUPs of the
// module's text (net-snmp does not show their OBJECTS), and their OIDs.
func TestStdGroupsMatchText(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(mibDirs(t), StdModuleName+".txt"))
	if err != nil {
		t.Skipf("SKIPPING: %v", err)
	}
	group := regexp.MustCompile(`(?s)(\w+) OBJECT-GROUP\s+OBJECTS\s*\{([^}]*)\}.*?::= \{ vmGroups (\d+) \}`)
	inText := map[string][]string{}
	number := map[string]string{}
	for _, m := range group.FindAllStringSubmatch(string(text), -1) {
		var objs []string
		for _, l := range strings.Split(m[2], "\n") {
			l, _, _ = strings.Cut(l, "--")
			for _, f := range strings.Split(l, ",") {
				if f = strings.TrimSpace(f); f != "" {
					objs = append(objs, f)
				}
			}
		}
		inText[m[1]], number[m[1]] = objs, m[3]
	}
	for _, g := range StdObjectGroups() {
		want, ok := inText[g.Name]
		if !ok {
			t.Errorf("%s is not an OBJECT-GROUP of the module", g.Name)
			continue
		}
		if !slices.Equal(g.Objects, want) {
			t.Errorf("%s OBJECTS: Go %v, MIB %v", g.Name, g.Objects, want)
		}
		if want := StdGroups.String() + "." + number[g.Name]; g.OID.String() != want {
			t.Errorf("%s: Go %s, MIB %s", g.Name, g.OID, want)
		}
	}
	out := strings.Fields(snmptranslateModule(t, StdModuleName, "-On", StdModuleName+"::vmGroups"))
	if len(out) != 1 || out[0] != StdGroups.String() {
		t.Errorf("vmGroups: MIB %v, Go %s", out, StdGroups)
	}
}
