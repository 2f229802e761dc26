package etcdtest

import (
	"context"
	"testing"
	"time"
)

// TestClusterQuorum: the cluster a test starts has a leader, keeps quorum
// without one member and gets it back when two return.
func TestClusterQuorum(t *testing.T) {
	c := Start(t)
	cli := c.Client()
	put := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := cli.Put(ctx, "k", "v")
		return err
	}
	if err := put(); err != nil {
		t.Fatalf("put on a healthy cluster: %v", err)
	}
	c.Kill(0)
	c.WaitQuorum()
	c.Kill(1)
	if err := put(); err == nil {
		t.Fatal("put succeeded without quorum")
	}
	c.Restart(0)
	c.Restart(1)
	c.WaitQuorum()
	if err := put(); err != nil {
		t.Fatalf("put after quorum is back: %v", err)
	}
}
