package e2e

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmgate/vmgate/e2e/testkit"
)

// The Prometheus kit's files, checked with the tools that read them: Debian's
// prometheus-snmp-exporter, promtool and, when it can be built, snmp_exporter's
// generator. None of these tests needs vmgate or libvirt.

var updateSnmp = flag.Bool("update-snmp", false, "rewrite deploy/prometheus/snmp.yml's generated part (TestSnmpYmlGenerated)")

// generatorVersion is the snmp_exporter module the generator is built from: the oldest
// the module proxy serves (v0.21, whose exporter Debian 12 ships, is refused).
const generatorVersion = "v0.23.0"

const kitDir = "../deploy/prometheus"

func kitFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(kitDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func kitTool(t *testing.T, dir, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, out)
	}
	return string(out)
}

// TestSnmpYmlLoads: Debian's exporter (strict YAML) accepts snmp.yml as checked in and
// with the per-host modules of other hosts.
func TestSnmpYmlLoads(t *testing.T) {
	bin := testkit.NeedTool(t, "prometheus-snmp-exporter")
	kit := kitFile(t, "snmp.yml")
	other, err := SnmpYmlFor(kit, []string{"a", "kvm-7.example.net"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "other.yml"), []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(kitDir, "snmp.yml"), filepath.Join(dir, "other.yml")} {
		abs, _ := filepath.Abs(f)
		kitTool(t, dir, bin, "--config.file="+abs, "--dry-run")
	}
}

// TestPrometheusConfig: promtool accepts prometheus.yml (with the rule file it names)
// and the rules alone.
func TestPrometheusConfig(t *testing.T) {
	bin := testkit.NeedTool(t, "promtool")
	kitTool(t, kitDir, bin, "check", "config", "prometheus.yml")
	kitTool(t, kitDir, bin, "check", "rules", "vmgate-rules.yml")
}

// TestPrometheusRules runs the alert and recording rules' unit tests.
func TestPrometheusRules(t *testing.T) {
	bin := testkit.NeedTool(t, "promtool")
	out := kitTool(t, kitDir, bin, "test", "rules", "vmgate-rules.test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules:\n%s", out)
	}
}

// TestSnmpYmlGenerated regenerates snmp.yml's generated part from generator.yml with
// snmp_exporter's generator at generatorVersion ($VMGATE_SNMP_GENERATOR, else built
// from its Go module, which needs cgo, libsnmp-dev and the module proxy) and compares.
func TestSnmpYmlGenerated(t *testing.T) {
	gen := snmpGenerator(t)
	mibs := mibDirs(t) // mib/ and the standard modules
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "generator.yml"), []byte(kitFile(t, "generator.yml")), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gen, "generate", "--fail-on-parse-errors", "-o", "out.yml")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MIBDIRS="+mibs)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generator: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "out.yml"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ConvertGenerated(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	kit := kitFile(t, "snmp.yml")
	i := strings.Index(kit, SnmpHostsMarker)
	if i < 0 {
		t.Fatalf("snmp.yml has no %q line", SnmpHostsMarker)
	}
	if *updateSnmp {
		if err := os.WriteFile(filepath.Join(kitDir, "snmp.yml"), []byte(want+"\n"+kit[i:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := strings.TrimSuffix(kit[:i], "\n"); got != want {
		t.Errorf("snmp.yml differs from the generator's output for generator.yml " +
			"(go test ./e2e -run TestSnmpYmlGenerated -update-snmp rewrites it)")
	}
}

// snmpGenerator returns snmp_exporter's generator: $VMGATE_SNMP_GENERATOR, else one built
// (once, cached in the user cache directory) from its module at generatorVersion. It
// skips loudly when neither is possible.
func snmpGenerator(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("VMGATE_SNMP_GENERATOR"); p != "" {
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Skipf("SKIPPING snmp.yml regeneration: no cache directory for the generator: %v", err)
	}
	dir := filepath.Join(cache, "vmgate", "snmp-generator-"+generatorVersion)
	bin := filepath.Join(dir, "generator")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if testing.Short() {
		t.Skipf("SKIPPING snmp.yml regeneration under -short: no generator in %s to reuse, and building it "+
			"fetches snmp_exporter %s", dir, generatorVersion)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A module of its own: "go install pkg@version" asks the proxy for the version
	// list, which it refuses for snmp_exporter.
	files := map[string]string{
		"go.mod":   "module gen\n\ngo 1.21\n\nrequire github.com/prometheus/snmp_exporter " + generatorVersion + "\n",
		"tools.go": "//go:build tools\n\npackage tools\n\nimport _ \"github.com/prometheus/snmp_exporter/generator\"\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"mod", "tidy"}, {"build", "-o", bin, "github.com/prometheus/snmp_exporter/generator"}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("SKIPPING snmp.yml regeneration: cannot build snmp_exporter's generator %s "+
				"(needs cgo, libsnmp-dev, the module proxy): go %v: %v\n%s", generatorVersion, args, err, out)
		}
	}
	return bin
}
