// Package web serves vmgate over HTTP: /metrics (Prometheus), /healthz, /readyz, a
// landing page listing the hosts, and /prometheus/sd (Prometheus http_sd). It knows
// nothing of libvirt or SNMP: the gateway hands it a metrics handler and a function
// returning the current Status.
package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Status is what the pages show, taken when a page is asked for.
type Status struct {
	Version  string
	Hosts    []Host   // in configuration order
	NotReady []string // why /readyz answers 503; empty: ready
	SDTarget string   // the SNMP address /prometheus/sd gives; "" while unknown
}

// Host is one configured hypervisor as the landing page and the service discovery
// show it.
type Host struct {
	Name      string // the SNMP context
	URI       string // without secrets or options
	State     string // connecting, up, down
	Since     time.Time
	VMs       int
	LastSync  time.Time // zero: never synced
	LastError string
}

// Server is the HTTP side. Serve runs it.
type Server struct {
	cfg     Config
	status  func() Status
	log     *slog.Logger
	tls     *tls.Config // nil: plain HTTP
	handler http.Handler

	mu    sync.Mutex
	addr  net.Addr
	ready chan struct{}
	auth  map[[32]byte]string // sha256(user:password) of accepted credentials -> user
}

// authCacheSize bounds the cache of credentials that passed bcrypt (one bcrypt check
// costs tens of milliseconds: a scrape every few seconds must not pay it each time).
const authCacheSize = 64

// dummyHash is checked against for an unknown user.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("no such user"), bcrypt.DefaultCost)
	return h
})

// New prepares the server: the TLS files are read now, so a bad one fails the start.
func New(cfg Config, metrics http.Handler, status func() Status, logger *slog.Logger) (*Server, error) {
	s := &Server{cfg: cfg, status: status, log: logger, ready: make(chan struct{}), auth: map[[32]byte]string{}}
	if cfg.TLS.CertFile != "" {
		t, err := loadTLS(cfg.TLS)
		if err != nil {
			return nil, err
		}
		s.tls = t
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { text(w, http.StatusOK, "ok\n") })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /prometheus/sd", s.sd)
	mux.HandleFunc("GET /{$}", s.landing)
	s.handler = s.authenticate(mux)
	return s, nil
}

func loadTLS(c TLSConfig) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("http.tls: %w", err)
	}
	t := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("http.tls.client_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("http.tls.client_ca_file: %q holds no PEM certificate", c.ClientCAFile)
		}
		t.ClientCAs, t.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return t, nil
}

// Serve listens on cfg.Listen and serves until ctx is done (nil), or returns why it
// could not listen.
func (s *Server) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("http listen %s: %w", s.cfg.Listen, err)
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	close(s.ready)
	s.log.Info("http server listening", "addr", ln.Addr().String(), "tls", s.tls != nil,
		"basic_auth", len(s.cfg.BasicAuthUsers) > 0)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err = <-done:
		return fmt.Errorf("http serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http serve: %w", err)
	}
	return nil
}

// Addr returns the bound address once Serve listens, else nil.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Ready is closed once Serve listens.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// authenticate asks for basic authentication when users are configured. A failure is
// logged with the user name, never the password.
func (s *Server) authenticate(next http.Handler) http.Handler {
	if len(s.cfg.BasicAuthUsers) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if ok && s.checkPassword(user, pass) {
			next.ServeHTTP(w, r)
			return
		}
		if ok {
			s.log.Info("http authentication failed", "user", user, "from", r.RemoteAddr)
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="vmgate", charset="UTF-8"`)
		text(w, http.StatusUnauthorized, "authentication required\n")
	})
}

func (s *Server) checkPassword(user, pass string) bool {
	key := sha256.Sum256([]byte(user + ":" + pass))
	s.mu.Lock()
	cached, hit := s.auth[key]
	s.mu.Unlock()
	if hit {
		return subtle.ConstantTimeCompare([]byte(cached), []byte(user)) == 1
	}
	hash, known := s.cfg.BasicAuthUsers[user]
	if !known {
		// The same work as for a known user, so timing does not tell user names apart.
		hash = Hash(dummyHash())
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass)) != nil || !known {
		return false
	}
	s.mu.Lock()
	if len(s.auth) >= authCacheSize {
		clear(s.auth)
	}
	s.auth[key] = user
	s.mu.Unlock()
	return true
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	st := s.status()
	if len(st.NotReady) == 0 {
		text(w, http.StatusOK, "ready\n")
		return
	}
	msg := "not ready:\n"
	for _, r := range st.NotReady {
		msg += "- " + r + "\n"
	}
	text(w, http.StatusServiceUnavailable, msg)
}

// sdGroup is one Prometheus http_sd target group.
type sdGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// sd is Prometheus http_sd: one target group per host context, all with the agent's
// SNMP address; the vmgate_context label says which context to scrape.
func (s *Server) sd(w http.ResponseWriter, _ *http.Request) {
	st := s.status()
	groups := make([]sdGroup, 0, len(st.Hosts))
	if st.SDTarget != "" {
		for _, h := range st.Hosts {
			groups = append(groups, sdGroup{Targets: []string{st.SDTarget},
				Labels: map[string]string{"vmgate_context": h.Name, "hypervisor": h.Name}})
		}
	}
	body, err := json.Marshal(groups)
	if err != nil {
		text(w, http.StatusInternalServerError, err.Error()+"\n")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
}

func text(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}
