package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
)

// kitUser is the SNMPv3 user of deploy/prometheus/snmp.yml, as vmgate's config has it.
var kitUser = User{
	Name: "prometheus", AuthProtocol: "SHA-256", AuthPassphrase: "CHANGE-ME-auth-passphrase",
	PrivProtocol: "AES", PrivPassphrase: "CHANGE-ME-priv-passphrase", Access: "read-only", Contexts: []string{"*"},
}

// startDaemon starts a long-running tool with its output in dir/NAME.log; it is stopped
// (SIGTERM, then waited for) when the test ends, and its log printed if the test failed.
func startDaemon(t *testing.T, dir, name, bin string, args ...string) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		_ = logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%.6000s", name, b)
		}
	})
}

// promSeries is one series of a Prometheus instant query.
type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// promQuery runs an instant query through Prometheus's HTTP API ("" and nil while
// Prometheus is not up).
func promQuery(t *testing.T, base, query string) ([]promSeries, string) {
	t.Helper()
	code, body := httpGet(t, base+"/api/v1/query?query="+url.QueryEscape(query))
	if code != 200 {
		return nil, fmt.Sprintf("HTTP %d %.300s", code, body)
	}
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []promSeries `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Status != "success" {
		return nil, fmt.Sprintf("%v: %.300s", err, body)
	}
	return r.Data.Result, ""
}

// kitConfig is deploy/prometheus/prometheus.yml with the test's addresses and a 5 s
// scrape and discovery interval.
func kitConfig(t *testing.T, vmgateHTTP, exporter string) string {
	t.Helper()
	r := strings.NewReplacer(
		"127.0.0.1:9161", vmgateHTTP,
		"127.0.0.1:9116", exporter,
		"scrape_interval: 60s", "scrape_interval: 5s",
		"scrape_timeout: 50s", "scrape_timeout: 5s",
		"refresh_interval: 60s", "refresh_interval: 5s",
	)
	cfg := kitFile(t, "prometheus.yml")
	out := r.Replace(cfg)
	for _, s := range []string{"127.0.0.1:9161", "127.0.0.1:9116", "60s"} {
		if strings.Contains(out, s) {
			t.Fatalf("prometheus.yml: %q left after the test's replacements", s)
		}
	}
	return out
}

// TestPrometheusScrape runs the Prometheus kit as documented against a vmgate with four
// test-driver hosts of 25 VMs: Debian's prometheus discovers one target per host context
// from vmgate's /prometheus/sd and scrapes them through Debian's
// prometheus-snmp-exporter with deploy/prometheus/snmp.yml. Through Prometheus's query
// API every VM has its vmState series with vmName, vmUUID (text) and hypervisorName and
// the right values, and a VM paused by snmpset reads paused in a later scrape.
func TestPrometheusScrape(t *testing.T) {
	bin := binary(t)
	if err := LibvirtMissing(); err != nil {
		t.Skipf("SKIPPING libvirt test: %v", err)
	}
	promBin, exporterBin := testkit.NeedTool(t, "prometheus"), testkit.NeedTool(t, "prometheus-snmp-exporter")
	dir := t.TempDir()
	const nHosts, perHost = 4, 25
	var hs []Host
	var names []string
	for h := range nHosts {
		host, err := TestDriverHost(fmt.Sprintf("prom-%d", h), replicaNode(t, dir, h, perHost))
		if err != nil {
			t.Fatal(err)
		}
		hs, names = append(hs, host), append(names, host.Name)
	}
	httpAddr := "127.0.0.1:" + strconv.Itoa(testkit.FreeTCPPort(t))
	g := Start(t, bin, Config{Users: []User{admin, kitUser}, Hosts: hs,
		Raw: map[string]any{"http": map[string]any{"listen": httpAddr}}})
	testkit.WaitFor(t, 2*time.Minute, "vmgate ready", func() bool {
		code, _ := httpGet(t, "http://"+httpAddr+"/readyz")
		return code == 200
	})

	snmpYml, err := SnmpYmlFor(kitFile(t, "snmp.yml"), names)
	if err != nil {
		t.Fatal(err)
	}
	exporterAddr := "127.0.0.1:" + strconv.Itoa(testkit.FreeTCPPort(t))
	promAddr := "127.0.0.1:" + strconv.Itoa(testkit.FreeTCPPort(t))
	files := map[string]string{
		"snmp.yml":         snmpYml,
		"prometheus.yml":   kitConfig(t, httpAddr, exporterAddr),
		"vmgate-rules.yml": kitFile(t, "vmgate-rules.yml"),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	startDaemon(t, dir, "snmp_exporter", exporterBin, "--config.file="+filepath.Join(dir, "snmp.yml"),
		"--web.listen-address="+exporterAddr)
	startDaemon(t, dir, "prometheus", promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)
	prom := "http://" + promAddr

	// Every host context is a target, scraped successfully.
	pollUntil(t, 3*time.Minute, "every host context scraped", func() string {
		r, why := promQuery(t, prom, `up{job="vmgate-snmp"} == 1`)
		if len(r) != nHosts {
			return fmt.Sprintf("%d targets up (%s)", len(r), why)
		}
		return ""
	})
	want := map[string]vmWant{}
	for h := range nHosts {
		for i := range perHost {
			want[fmt.Sprintf("rep-%d-%d", h, i)] = vmWant{
				uuid: fmt.Sprintf("0e2e0000-0000-4000-8000-%06d%06d", h, i), host: fmt.Sprintf("prom-%d", h),
			}
		}
	}
	pollUntil(t, 2*time.Minute, "every VM running with its labels", func() string {
		return checkVMSeries(t, prom, `vmState{vmState="running"} == 1`, want)
	})
	pollUntil(t, time.Minute, "every VM's memory", func() string {
		return checkVMSeries(t, prom, `vmMemoryMb == 64`, want)
	})

	// The exporter's own answer: sizes as gauges, one series per state.
	_, page := httpGet(t, "http://"+exporterAddr+"/snmp?module=vmgate@prom-1&target="+
		url.QueryEscape("127.0.0.1:"+strconv.Itoa(g.Port)))
	for _, re := range []string{`(?m)^# TYPE storageCapacity gauge$`, `(?m)^# TYPE storageAllocation gauge$`,
		`(?m)^vmState\{vmHost="prom-1",vmId="\d+",vmName="rep-1-3",vmState="running",vmUUIDText="0e2e0000-0000-4000-8000-000001000003"\} 1$`,
		`(?m)^vmState\{vmHost="prom-1",vmId="\d+",vmName="rep-1-3",vmState="shutoff",vmUUIDText="0e2e0000-0000-4000-8000-000001000003"\} 0$`,
		`(?m)^hypervisorConnState\{hypervisorConnState="connected",hypervisorIndex="\d+",hypervisorName="prom-1"\} 1$`} {
		if !regexp.MustCompile(re).MatchString(page) {
			t.Errorf("snmp_exporter's answer for prom-1 has no line matching %s:\n%.3000s", re, page)
		}
	}

	// A VM paused by SET reads paused in a later scrape, and only it.
	const victim = "rep-2-7"
	id, ok := vmIDByName(t, g, "prom-2", victim)
	if !ok {
		t.Fatalf("no vmId for %s", victim)
	}
	if r := g.Set(t, admin.Cred("prom-2"), fmt.Sprintf("%s.%d", mustOID(t, "vmState"), id), "i", "4"); r.Err != nil {
		t.Fatalf("snmpset vmState paused: %v\n%s", r.Err, r.Stderr)
	}
	pollUntil(t, 2*time.Minute, victim+" paused in Prometheus", func() string {
		r, why := promQuery(t, prom, `vmState{vmState="paused"} == 1`)
		if len(r) != 1 || r[0].Metric["vmName"] != victim || r[0].Metric["vmId"] != strconv.Itoa(int(id)) {
			return fmt.Sprintf("paused series: %v %s", r, why)
		}
		return ""
	})
}

type vmWant struct{ uuid, host string }

// checkVMSeries says what is wrong with query's answer: one series per VM of want,
// labelled with its vmName, vmUUID and hypervisorName ("" when it is right).
func checkVMSeries(t *testing.T, prom, query string, want map[string]vmWant) string {
	t.Helper()
	r, why := promQuery(t, prom, query)
	if why != "" {
		return why
	}
	seen := map[string]bool{}
	for _, s := range r {
		name := s.Metric["vmName"]
		w, ok := want[name]
		switch {
		case !ok:
			return fmt.Sprintf("%s: unexpected series %v", query, s.Metric)
		case s.Metric["vmUUID"] != w.uuid || s.Metric["hypervisorName"] != w.host:
			return fmt.Sprintf("%s: %s has labels %v, want vmUUID %s hypervisorName %s", query, name, s.Metric, w.uuid, w.host)
		case seen[name]:
			return fmt.Sprintf("%s: %s twice", query, name)
		}
		seen[name] = true
	}
	if len(seen) != len(want) {
		return fmt.Sprintf("%s: %d of %d VMs", query, len(seen), len(want))
	}
	return ""
}
