package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
)

// silentLibvirtd accepts TCP connections and never answers: a host whose first sync
// is held until Release closes them (the connection then fails: the host is down).
type silentLibvirtd struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newSilentLibvirtd(t *testing.T) *silentLibvirtd {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentLibvirtd{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(s.Release)
	return s
}

func (s *silentLibvirtd) URI() string { return "qemu+tcp://" + s.ln.Addr().String() + "/system" }

func (s *silentLibvirtd) Accepted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns) > 0
}

// Release refuses every later connection and closes those held.
func (s *silentLibvirtd) Release() {
	_ = s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.conns = nil
}

// httpGet returns a GET's status code and body ("" and 0 when the server is not up).
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error()
	}
	return resp.StatusCode, string(body)
}

// TestHTTP is vmgate's HTTP side: with a test-driver host and a host whose libvirtd
// accepts the connection and never answers, /readyz says 503 naming the held host
// while its first sync hangs and 200 once that host is marked down; /metrics has the
// per-host series and counts the SNMP requests; /prometheus/sd lists one target per
// host context, including a host added by a SIGHUP reload; the landing page lists the
// hosts.
func TestHTTP(t *testing.T) {
	bin := binary(t)
	if err := LibvirtMissing(); err != nil {
		t.Skipf("SKIPPING libvirt test: %v", err)
	}
	held := newSilentLibvirtd(t)
	cfg := baseConfig(t)
	httpAddr := "127.0.0.1:" + strconv.Itoa(testkit.FreeTCPPort(t))
	// held's connect_timeout outlasts the test: only Release ends its first sync.
	withHeld := func(hs []Host) map[string]any {
		list := []map[string]any{{"name": "held", "uri": held.URI(), "connect_timeout": "1h"}}
		for _, h := range hs {
			list = append(list, map[string]any{"name": h.Name, "uri": h.URI})
		}
		return map[string]any{"http": map[string]any{"listen": httpAddr}, "hosts": list}
	}
	cfg.Raw = withHeld(cfg.Hosts)
	g := Start(t, bin, cfg)
	base := "http://" + httpAddr

	if code, body := httpGet(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	testkit.WaitFor(t, 30*time.Second, "vmgate to connect to the silent libvirtd", held.Accepted)
	// The test-driver host syncs meanwhile; the held one cannot.
	var metrics string
	testkit.WaitFor(t, 90*time.Second, hostCtx+" up in /metrics", func() bool {
		_, metrics = httpGet(t, base+"/metrics")
		return strings.Contains(metrics, `vmgate_host_state{host="`+hostCtx+`",state="up"} 1`)
	})
	if code, body := httpGet(t, base+"/readyz"); code != http.StatusServiceUnavailable ||
		!strings.Contains(body, "host held: first sync not done") || strings.Contains(body, hostCtx) {
		t.Errorf("/readyz while held's first sync hangs: %d %q", code, body)
	}
	held.Release()
	testkit.WaitFor(t, 30*time.Second, "/readyz 200 once held is down", func() bool {
		code, _ := httpGet(t, base+"/readyz")
		return code == 200
	})

	_, metrics = httpGet(t, base+"/metrics")
	for _, want := range []string{
		`vmgate_host_state{host="held",state="down"} 1`,
		`vmgate_view_vms{host="` + hostCtx + `"} `,
		`vmgate_view_storage_pools{host="` + hostCtx + `"} `,
		`vmgate_host_resyncs_total{host="` + hostCtx + `"} `,
		`vmgate_host_last_sync_duration_seconds{host="` + hostCtx + `"} `,
		`vmgate_host_resync_duration_seconds_count `,
		`vmgate_host_last_sync_timestamp_seconds{host="` + hostCtx + `"} `,
		`vmgate_libvirt_calls_total{host="` + hostCtx + `",procedure="DomainGetXMLDesc"} `,
		`vmgate_libvirt_call_seconds_total{host="` + hostCtx + `",procedure="DomainGetXMLDesc"} `,
		`vmgate_libvirt_call_duration_seconds_count{procedure="DomainGetXMLDesc"} `,
		`vmgate_snmp_requests_total{pdu="get",result="noError"} `,
		`vmgate_snmp_request_duration_seconds_bucket{pdu="get",le="+Inf"} `,
		`vmgate_snmp_auth_failures_total{reason="wrong_digest"} 0`,
		`vmgate_snmp_notifications_total{result="dropped"} 0`,
		`vmgate_view_hosts 2`,
		`vmgate_ready 1`,
		`go_goroutines `, `process_resident_memory_bytes `,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", metrics)
	}

	// A wrong community shows as an authentication failure, a SET by a read-only
	// community as a rejected SET.
	g.Run(t, "snmpget", V2c("wrong-community"), sysUpTime)
	g.Run(t, "snmpset", V2c("public"), "1.3.6.1.2.1.1.5.0", "s", "renamed")
	testkit.WaitFor(t, 10*time.Second, "bad_community and the SET counted", func() bool {
		_, metrics = httpGet(t, base+"/metrics")
		return strings.Contains(metrics, `vmgate_snmp_auth_failures_total{reason="bad_community"} 1`) &&
			strings.Contains(metrics, `vmgate_snmp_sets_total{outcome="rejected"} 1`) &&
			strings.Contains(metrics, `vmgate_snmp_requests_total{pdu="set",result="noAccess"} 1`)
	})

	checkSD(t, base, g.Port, "held", hostCtx)
	// A host added by SIGHUP is listed too.
	added, err := TestDriverHost(hostCtx+"-added", filepath.Join("testdata", "node2.xml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Hosts = append(cfg.Hosts, added)
	cfg.Raw = withHeld(cfg.Hosts)
	g.WriteConfig(t, cfg)
	g.Signal(t, syscall.SIGHUP)
	testkit.WaitFor(t, 30*time.Second, added.Name+" in /prometheus/sd", func() bool {
		_, body := httpGet(t, base+"/prometheus/sd")
		return strings.Contains(body, `"vmgate_context":"`+added.Name+`"`)
	})
	checkSD(t, base, g.Port, "held", hostCtx, added.Name)

	t.Run("landing page in chromium", func(t *testing.T) {
		text := renderedText(t, base+"/")
		for _, want := range []string{"vmgate", "Hosts", hostCtx, "held", "down", "up", "Metrics", "readiness",
			"Prometheus service discovery", "127.0.0.1:" + strconv.Itoa(g.Port)} {
			if !strings.Contains(text, want) {
				t.Errorf("the rendered landing page lacks %q:\n%s", want, text)
			}
		}
	})
}

// checkSD reads /prometheus/sd and wants exactly one target group per host, each
// with the agent's SNMP address and the host as vmgate_context and hypervisor.
func checkSD(t *testing.T, base string, port int, hosts ...string) {
	t.Helper()
	code, body := httpGet(t, base+"/prometheus/sd")
	var groups []struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	if err := json.Unmarshal([]byte(body), &groups); code != 200 || err != nil {
		t.Fatalf("/prometheus/sd: %d %v %q", code, err, body)
	}
	if len(groups) != len(hosts) {
		t.Fatalf("/prometheus/sd has %d groups, want %d (%v): %s", len(groups), len(hosts), hosts, body)
	}
	for i, h := range hosts {
		gr := groups[i]
		want := fmt.Sprintf("127.0.0.1:%d", port)
		if len(gr.Targets) != 1 || gr.Targets[0] != want || gr.Labels["vmgate_context"] != h || gr.Labels["hypervisor"] != h {
			t.Errorf("/prometheus/sd group %d = %+v, want target %s and host %s", i, gr, want, h)
		}
	}
}

// renderedText renders url in headless Chromium and returns the page's DOM as text
// (tags stripped); it skips loudly without Debian's chromium.
func renderedText(t *testing.T, url string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("SKIPPING the landing page rendering: no chromium (apt-get install chromium; deploy/testbed/deps does)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--dump-dom", url)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v\n%s", url, err, stderr.String())
	}
	dom := string(out)
	if !strings.Contains(dom, "</html>") {
		t.Fatalf("chromium dumped no page:\n%s\n%s", dom, stderr.String())
	}
	var b strings.Builder
	in := false
	for _, r := range dom {
		switch {
		case r == '<':
			in = true
			b.WriteByte(' ')
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
