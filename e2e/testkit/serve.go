package testkit

import (
	"context"
	"testing"
	"time"
)

// stopWait bounds how long a test's cleanup waits for a server it runs to return after
// cancel: a hang bound, not a timing assertion.
const stopWait = 30 * time.Second

// Running is a function Go runs; Done is closed once it has returned, Err then says how.
type Running struct {
	done chan struct{}
	err  error
}

// Done is closed when the function has returned.
func (r *Running) Done() <-chan struct{} { return r.done }

// Err is what the function returned; call it after Done is closed.
func (r *Running) Err() error { return r.err }

// Go runs run (a server's Run or Serve) in a goroutine until the test ends: t.Cleanup
// cancels its context, waits for it to return and reports an error it returns, or a
// hang. what names it in those reports.
func Go(t testing.TB, what string, run func(context.Context) error) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
			if r.err != nil {
				t.Errorf("%s returned %v after cancel, want nil", what, r.err)
			}
		case <-time.After(stopWait):
			t.Errorf("%s did not return within %s after cancel", what, stopWait)
		}
	})
	return r
}
