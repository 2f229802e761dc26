// Package testkit is the one set of helpers every package's tests share: waiting for a
// condition, running a server until the test ends, free loopback ports, a buffer a test
// reads while a server writes to it, a settable clock, a check of an error that lists
// every problem at once, and a link to a libvirt socket that can freeze, be cut and be
// restored. It imports only the standard library, so
// that the leaf packages' tests may use it too.
package testkit

import (
	"bytes"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// pollEvery is the first interval between two looks at a condition, pollMax the
// longest: a polling rate that backs off (a condition may run a command), not a guess
// at how long anything takes.
const (
	pollEvery = 10 * time.Millisecond
	pollMax   = 200 * time.Millisecond
)

// NeedTool returns the path of the command name, or skips the test loudly when it is
// not installed (deploy/testbed/deps installs what the tests use).
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("SKIPPING: %s not installed (%v)", name, err)
	}
	return p
}

// Poll calls cond until it returns true (true) or timeout passes first (false).
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for every := pollEvery; !cond(); every = min(2*every, pollMax) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(every)
	}
	return true
}

// WaitFor polls cond and fails the test, naming what, when timeout passes first. The
// timeout bounds a hang; it is no assertion on speed: pick it generously. Call it from
// the test's goroutine only (it may call t.Fatalf).
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// Buffer is a bytes.Buffer safe for a writer (a logger, a child process) and the
// test reading it at the same time.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Len returns the number of bytes written so far.
func (l *Buffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

// Clock is a settable clock, safe for concurrent use; pass its Now where code takes
// a func() time.Time.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at a fixed date.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
