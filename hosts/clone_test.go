package hosts

import (
	"context"
	"errors"
	"testing"
)

// TestOutlive: when the caller's context ends first (the SET gave up), the operation
// goes on, the caller gets ErrAbandoned at once, and the operation's result goes to the
// clean-up when it ends; a result the caller got never does.
func TestOutlive(t *testing.T) {
	t.Run("abandoned", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		release, dropped := make(chan struct{}), make(chan string, 1)
		started := make(chan context.Context, 1)
		go func() { <-started; cancel() }()
		_, err := outlive(ctx, func(ctx context.Context) (string, error) {
			started <- ctx
			<-release
			return "vol", ctx.Err()
		}, func(v string, err error) {
			if err == nil {
				dropped <- v
			}
		})
		if !errors.Is(err, ErrAbandoned) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want ErrAbandoned and the cause", err)
		}
		close(release)
		if v := <-dropped; v != "vol" {
			t.Fatalf("dropped %q", v)
		}
	})
	t.Run("finished", func(t *testing.T) {
		v, err := outlive(context.Background(), func(context.Context) (string, error) { return "vol", nil },
			func(v string, _ error) { t.Errorf("dropped %q the caller got", v) })
		if err != nil || v != "vol" {
			t.Fatalf("%q, %v", v, err)
		}
	})
}
