package hosts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/vmgate/vmgate/e2e/testkit"
)

func TestIsPermanent(t *testing.T) {
	lverr := func(code libvirt.ErrorNumber, msg string) error {
		return fmt.Errorf("open %q: %w", "xen:///system", libvirt.Error{Code: uint32(code), Message: msg})
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"no driver", lverr(libvirt.ErrNoConnect, "no connection driver available for xen:///system"), true},
		{"auth failed", lverr(libvirt.ErrAuthFailed, "authentication failed"), true},
		{"access denied", lverr(libvirt.ErrAccessDenied, "access denied"), true},
		{"internal error", lverr(libvirt.ErrInternalError, "internal error"), false},
		{"system error", lverr(libvirt.ErrSystemError, "Failed to open file"), false},
		{"timeout", fmt.Errorf("no answer within connect_timeout: %w", ErrTimeout), false},
		{"refused connection", errors.New("dial tcp 10.0.0.1:16514: connect: connection refused"), false},
		{"marked by a dialer", fmt.Errorf("x: %w", permanent(errors.New("host key CHANGED"))), true},
		{"certificate", fmt.Errorf("dial tls: %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), true},
		{"ssh key refused", errors.New("ssh: handshake with h:22 as root: ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isPermanent(tt.err); got != tt.want {
				t.Errorf("isPermanent(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	perm := libvirt.Error{Code: uint32(libvirt.ErrNoConnect), Message: "no connection driver available"}
	other := libvirt.Error{Code: uint32(libvirt.ErrAuthFailed), Message: "authentication failed"}
	transient := errors.New("connection refused")
	r := retry{bo: backoff{min: 10 * time.Millisecond, max: time.Second}}
	steps := []struct {
		name       string
		err        error
		wasUp      bool
		perm, news bool
		minWait    time.Duration
	}{
		{"transient", transient, false, false, true, 0},
		{"permanent", perm, false, true, true, 500 * time.Millisecond},
		{"permanent again: quiet", perm, false, true, false, 500 * time.Millisecond},
		{"another permanent error", other, false, true, true, 500 * time.Millisecond},
		{"it again: quiet", other, false, true, false, 500 * time.Millisecond},
		{"after a success: news", other, true, true, true, 500 * time.Millisecond},
		{"transient in between", transient, false, false, true, 0},
		{"then the same permanent: news", other, false, true, true, 500 * time.Millisecond},
	}
	for _, s := range steps {
		wait, p, news := r.failed(s.err, s.wasUp)
		if p != s.perm || news != s.news || wait < s.minWait || wait > time.Second {
			t.Errorf("%s: failed() = %s, permanent %v, news %v; want permanent %v, news %v, wait >= %s",
				s.name, wait, p, news, s.perm, s.news, s.minWait)
		}
	}
}

// TestPermanentErrorLoggedOnce: a daemon without the URI's driver refuses every
// attempt the same way; the supervisor retries every backoff_max and warns once.
func TestPermanentErrorLoggedOnce(t *testing.T) {
	requireLibvirtd(t)
	var logs testkit.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// A generous connect_timeout: a loaded libvirtd that answers late gives a transient
	// WARN of its own, which the count below leaves out anyway.
	cfg := Config{Name: "nodriver", URI: "xen+unix:///system", BackoffMax: 300 * time.Millisecond, ConnectTimeout: time.Minute}
	s, err := New(cfg, newFakeSink(), logger, WithBackoffStart(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Go(t, "Run", s.Run)
	attempts := func() int { return strings.Count(logs.String(), `msg="libvirt connection failed"`) }
	testkit.WaitFor(t, time.Minute, "four failed attempts", func() bool { return attempts() >= 4 })
	var warns []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "no connection driver") {
			warns = append(warns, l)
		}
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "permanent=true") {
		t.Fatalf("want one WARN naming the permanent error, got %d:\n%s", len(warns), strings.Join(warns, "\n"))
	}
	m := regexp.MustCompile(`retry_in=(\S+)`).FindStringSubmatch(warns[0])
	if d, err := time.ParseDuration(m[1]); err != nil || d < cfg.BackoffMax/2 {
		t.Errorf("first retry of a permanent error in %s, want backoff_max (%s, jittered down to half)", m[1], cfg.BackoffMax)
	}
}

// TestHostKeyRefusalIsPermanent: the host key error crosses x/crypto's handshake and
// the dialer's wrapping and is still recognised.
func TestHostKeyRefusalIsPermanent(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id")
	front := newSSHFront(t, writeClientKey(t, keyFile).PublicKey())
	cfg := Config{SSH: SSHConfig{KeyFile: keyFile, KnownHosts: writeFile(t, filepath.Join(dir, "known_hosts"), nil)}}
	u, err := ParseURI("qemu+ssh://vmgate@" + front.addr + "/system")
	if err != nil {
		t.Fatal(err)
	}
	dial, err := newSSHDialer(cfg, u, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = dial(ctx)
	if err == nil || !strings.Contains(err.Error(), "unknown") || !isPermanent(err) {
		t.Errorf("dial to an unknown host: %v (permanent: %v), want a permanent refusal", err, isPermanent(err))
	}
}
