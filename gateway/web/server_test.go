package web

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/vmgate/vmgate/e2e/testkit"
)

func testStatus() Status {
	return Status{Version: "v1-test", SDTarget: "127.0.0.1:161", NotReady: []string{"host kvm-2: first sync not done"},
		Hosts: []Host{
			{Name: "kvm-1", URI: "qemu+tls://kvm-1/system", State: "up", VMs: 12, LastSync: time.Unix(1e9, 0)},
			{Name: "kvm-2", URI: "qemu+ssh://kvm-2/system", State: "connecting", LastError: "<script>x</script>"},
		}}
}

func newTestServer(t testing.TB, cfg Config, st *Status, log io.Writer) *httptest.Server {
	t.Helper()
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "vmgate_x 1\n") })
	s, err := New(cfg, metrics, func() Status { return *st }, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.handler)
	t.Cleanup(ts.Close)
	return ts
}

func get(t testing.TB, url, user, pass string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func TestEndpoints(t *testing.T) {
	st := testStatus()
	ts := newTestServer(t, Config{Listen: "127.0.0.1:0"}, &st, io.Discard)

	if code, body, _ := get(t, ts.URL+"/healthz", "", ""); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	code, body, _ := get(t, ts.URL+"/readyz", "", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "host kvm-2: first sync not done") {
		t.Errorf("/readyz while kvm-2 syncs: %d %q", code, body)
	}
	st.NotReady = nil
	if code, body, _ := get(t, ts.URL+"/readyz", "", ""); code != 200 {
		t.Errorf("/readyz when ready: %d %q", code, body)
	}
	if code, body, _ := get(t, ts.URL+"/metrics", "", ""); code != 200 || body != "vmgate_x 1\n" {
		t.Errorf("/metrics: %d %q", code, body)
	}

	code, body, hdr := get(t, ts.URL+"/prometheus/sd", "", "")
	var groups []sdGroup
	if err := json.Unmarshal([]byte(body), &groups); code != 200 || err != nil || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("/prometheus/sd: %d %v %q", code, err, body)
	}
	want := []sdGroup{
		{Targets: []string{"127.0.0.1:161"}, Labels: map[string]string{"vmgate_context": "kvm-1", "hypervisor": "kvm-1"}},
		{Targets: []string{"127.0.0.1:161"}, Labels: map[string]string{"vmgate_context": "kvm-2", "hypervisor": "kvm-2"}},
	}
	if got, _ := json.Marshal(groups); !bytes.Equal(got, must(json.Marshal(want))) {
		t.Errorf("/prometheus/sd = %s, want %s", got, must(json.Marshal(want)))
	}

	code, body, _ = get(t, ts.URL+"/", "", "")
	for _, s := range []string{"kvm-1", "tls://kvm-1/system", ">12<", "2001-09-09T01:46:40Z", "connecting",
		"&lt;script&gt;x&lt;/script&gt;", `href="metrics"`, `href="prometheus/sd"`, "v1-test"} {
		if !strings.Contains(body, s) {
			t.Errorf("landing page (%d) lacks %q:\n%s", code, s, body)
		}
	}
	if code, _, _ := get(t, ts.URL+"/nothing", "", ""); code != http.StatusNotFound {
		t.Errorf("/nothing: %d", code)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	st := testStatus()
	var log testkit.Buffer
	ts := newTestServer(t, Config{Listen: "127.0.0.1:0", BasicAuthUsers: map[string]Hash{"prom": Hash(hash)}}, &st, &log)
	for _, c := range []struct {
		user, pass string
		code       int
	}{
		{"", "", 401}, {"prom", "wrong", 401}, {"nobody", "s3cret-pass", 401},
		{"prom", "s3cret-pass", 200}, {"prom", "s3cret-pass", 200}, // the second from the cache
	} {
		for _, path := range []string{"/metrics", "/", "/healthz"} {
			if code, _, hdr := get(t, ts.URL+path, c.user, c.pass); code != c.code ||
				(code == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic ")) {
				t.Errorf("%s as %q/%q: %d, want %d", path, c.user, c.pass, code, c.code)
			}
		}
	}
	if s := log.String(); strings.Contains(s, "s3cret") || strings.Contains(s, "wrong") || !strings.Contains(s, "user=nobody") {
		t.Errorf("log of the failures names the user, never the password:\n%s", s)
	}
}

func TestConfigValidate(t *testing.T) {
	hash := must(bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost))
	ok := Config{Listen: "127.0.0.1:9161", SDTarget: "[::1]:161", BasicAuthUsers: map[string]Hash{"a": Hash(hash)},
		TLS: TLSConfig{CertFile: "/c.pem", KeyFile: "/k.pem", ClientCAFile: "/ca.pem"}}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	bad := Config{Listen: "9161", SDTarget: "h", BasicAuthUsers: map[string]Hash{"a:b": "x", "c": "plain"},
		TLS: TLSConfig{CertFile: "c.pem", ClientCAFile: "/ca.pem"}}
	err := bad.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, s := range []string{"http.listen", "http.sd_target", "cert_file and key_file", `user "a:b"`,
		`user "c": not a bcrypt hash`, `http.tls.cert_file: "c.pem" must be an absolute path`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("errors lack %q:\n%v", s, err)
		}
	}
	if strings.Contains(err.Error(), "plain") {
		t.Errorf("a hash is printed:\n%v", err)
	}
	// The logged configuration (gateway.Config.LogValue marshals it) shows no hash.
	if out := string(must(yaml.Marshal(ok))); strings.Contains(out, string(hash)) || !strings.Contains(out, "a: <secret>") {
		t.Errorf("marshalled http section shows the hash or lost the user:\n%s", out)
	}
	if w := (Config{Listen: "0.0.0.0:9161"}).Warnings(); len(w) != 1 || !strings.Contains(w[0], "no authentication") {
		t.Errorf("warnings for an open listener: %q", w)
	}
	if w := (Config{Listen: "127.0.0.1:9161"}).Warnings(); len(w) != 0 {
		t.Errorf("warnings for loopback: %q", w)
	}
}

// TestTLS serves HTTPS with a certificate read at New, and requires a client
// certificate when client_ca_file is set.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	caPEM, certFile, keyFile, client := testPKI(t, dir)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	st := testStatus()
	cfg := Config{Listen: "127.0.0.1:0", TLS: TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile}}
	s, err := New(cfg, http.NotFoundHandler(), func() Status { return st }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Go(t, "https server", s.Serve)
	<-s.Ready()
	url := "https://" + s.Addr().String() + "/healthz"
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	for _, c := range []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{{"without a client certificate", nil, false}, {"with one", []tls.Certificate{client}, true}} {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: c.certs,
			ServerName: "localhost"}}}
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		if ok := err == nil && resp.StatusCode == 200; ok != c.ok {
			t.Errorf("%s: err %v, ok %v, want ok %v", c.name, err, ok, c.ok)
		}
	}
	if _, err := New(Config{Listen: "127.0.0.1:0", TLS: TLSConfig{CertFile: keyFile, KeyFile: certFile}},
		http.NotFoundHandler(), func() Status { return st }, slog.New(slog.DiscardHandler)); err == nil ||
		!strings.Contains(err.Error(), "http.tls") {
		t.Errorf("swapped cert and key files: %v", err)
	}
}

// testPKI writes a server certificate for localhost and its key under dir, and returns
// the CA's PEM and a client certificate from the same CA.
func testPKI(t *testing.T, dir string) (caPEM []byte, certFile, keyFile string, client tls.Certificate) {
	t.Helper()
	caKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER := must(x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey))
	ca := must(x509.ParseCertificate(caDER))
	issue := func(serial int64, usage x509.ExtKeyUsage) ([]byte, []byte) {
		key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
			DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature}
		der := must(x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey))
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(key))})
	}
	certPEM, keyPEM := issue(2, x509.ExtKeyUsageServerAuth)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	client = must(tls.X509KeyPair(issue(3, x509.ExtKeyUsageClientAuth)))
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), certFile, keyFile, client
}
