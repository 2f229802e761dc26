package viewtest

import (
	"context"
	"log/slog"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/hosts/hoststest"
)

// LibvirtSocket is the local libvirtd's socket, which the test driver's hosts use.
const LibvirtSocket = "/var/run/libvirt/libvirt-sock"

// RequireLibvirtd skips the test loudly when the local libvirtd cannot be reached
// (deploy/testbed/libvirtd-up starts it), and returns the absolute path of this
// package's test-driver node (testdata/node.xml: two domains, pool gw-pool holding
// web.qcow2), for a URI test+unix://PATH.
func RequireLibvirtd(t testing.TB) string {
	t.Helper()
	if err := hoststest.EnsureLibvirtd(LibvirtSocket); err != nil {
		t.Skipf("SKIPPING INTEGRATION TEST: libvirtd not reachable at %s (run deploy/testbed/libvirtd-up): %v",
			LibvirtSocket, err)
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("viewtest: cannot locate its own directory")
	}
	return filepath.Join(filepath.Dir(file), "testdata", "node.xml")
}

// RunSupervisor starts a supervisor for host on uri reporting to tv, through a link
// the test can freeze or cut. Cleanup first cuts the link and waits until the view
// shows the host down, so that no libvirt call is in flight when Run's context is
// cancelled.
func RunSupervisor(t testing.TB, tv *View, host, uri string) (*hosts.Supervisor, *testkit.Link) {
	t.Helper()
	link := testkit.NewLink(LibvirtSocket)
	sup, err := hosts.New(hosts.Config{Name: host, URI: uri, StatsInterval: time.Second,
		BackoffMax: 200 * time.Millisecond}, tv.View, slog.New(slog.DiscardHandler),
		hosts.WithDialer(link.Dial), hosts.WithBackoffStart(20*time.Millisecond))
	if err != nil {
		t.Fatalf("hosts.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = sup.Run(ctx) }()
	t.Cleanup(func() {
		link.Cut()
		testkit.WaitFor(t, 90*time.Second, host+" down before stopping its supervisor", func() bool {
			h, ok := tv.Read().HostHealth(host)
			return ok && h.Status == hosts.Down
		})
		cancel()
		<-done
	})
	return sup, link
}
