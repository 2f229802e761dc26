package viewtest

import (
	"context"
	"log/slog"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/gateway/view"
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

// Live returns a view in real time of the hosts names, each served by a real
// supervisor on its own test-driver host built from testdata/node.xml (skipped without
// libvirtd, as RequireLibvirtd), with the supervisors and their links in the order of
// names.
func Live(t testing.TB, names ...string) (*View, []*hosts.Supervisor, []*testkit.Link) {
	t.Helper()
	uri := "test+unix://" + RequireLibvirtd(t)
	tv := New(t)
	tv.RealTime()
	var specs []view.HostSpec
	for _, n := range names {
		specs = append(specs, view.HostSpec{Name: n, URI: uri, StatsInterval: time.Second})
	}
	tv.SetHosts(specs)
	sups := make([]*hosts.Supervisor, len(names))
	links := make([]*testkit.Link, len(names))
	for i, n := range names {
		sups[i], links[i] = RunSupervisor(t, tv, n, uri)
	}
	return tv, sups, links
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
