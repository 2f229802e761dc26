package hosts

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
)

// privateLibvirtd is a libvirtd of the test's own, in its own mount namespace so its
// state directories are private: tests may crash, kill and restart it without
// touching the machine's libvirtd that other tests share. It listens on a unix socket
// in a temp dir and on TCP 127.0.0.1:tcpPort without authentication.
type privateLibvirtd struct {
	dir     string
	socket  string
	tcpPort int
	cmd     *exec.Cmd
	exited  chan error // receives the daemon's exit once
}

func startPrivateLibvirtd(t *testing.T) *privateLibvirtd {
	t.Helper()
	requireLibvirtd(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skipf("SKIPPING: no unshare for a private libvirtd: %v", err)
	}
	// libvirtd rejects unix socket paths longer than sun_path, so keep the dir short.
	dir, err := os.MkdirTemp("/tmp", "h3d") //nolint:usetesting // t.TempDir is too long for sun_path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &privateLibvirtd{dir: dir, socket: filepath.Join(dir, "sock", "libvirt-sock"), tcpPort: testkit.FreeTCPPort(t)}
	for _, d := range []string{"sock", "root/run", "root/etc", "root/lib", "root/cache", "root/log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`unix_sock_dir = %q
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
listen_tls = 0
listen_tcp = 1
listen_addr = "127.0.0.1"
tcp_port = "%d"
auth_tcp = "none"
log_outputs = "3:file:%s/libvirtd.log"
`, filepath.Join(dir, "sock"), p.tcpPort, dir)
	if err := os.WriteFile(filepath.Join(dir, "libvirtd.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}

	p.start(t)
	t.Cleanup(func() {
		if p.crashed() {
			t.Errorf("private libvirtd died during the test, see %s/libvirtd.out", dir)
		}
		p.kill()
	})
	return p
}

// start runs libvirtd in the foreground as our child and waits for its socket.
func (p *privateLibvirtd) start(t *testing.T) {
	t.Helper()
	r := filepath.Join(p.dir, "root")
	p.cmd = exec.Command("unshare", "-m", "--propagation", "private", "/bin/sh", "-ec", `
r=$1; shift
mount --bind "$r/run" /run/libvirt
mount --bind "$r/etc" /etc/libvirt
mount --bind "$r/lib" /var/lib/libvirt
mount --bind "$r/cache" /var/cache/libvirt
mount --bind "$r/log" /var/log/libvirt
exec "$@"`, "sh", r, "libvirtd", "--listen", "--config", filepath.Join(p.dir, "libvirtd.conf"),
		"--pid-file", filepath.Join(p.dir, "libvirtd.pid"))
	out, err := os.Create(filepath.Join(p.dir, "libvirtd.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		t.Skipf("SKIPPING: private libvirtd did not start: %v", err)
	}
	p.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, exited chan<- error) { exited <- cmd.Wait() }(p.cmd, p.exited)
	testkit.WaitFor(t, 90*time.Second, "private libvirtd socket", func() bool {
		c, err := net.Dial("unix", p.socket)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// crashed reports whether the daemon exited on its own.
func (p *privateLibvirtd) crashed() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case err := <-p.exited:
		p.exited <- err
		return true
	default:
		return false
	}
}

// kill ends the daemon hard (SIGKILL), as a crash would.
func (p *privateLibvirtd) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
	os.Remove(p.socket)
}

func (p *privateLibvirtd) testURI(nodeXML string) string {
	return "test+unix://" + nodeXML + "?socket=" + p.socket
}

func (p *privateLibvirtd) tcpURI(nodeXML string) string {
	return "test+tcp://127.0.0.1:" + strconv.Itoa(p.tcpPort) + nodeXML
}
