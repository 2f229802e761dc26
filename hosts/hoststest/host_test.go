package hoststest

import (
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

func TestParseEnv(t *testing.T) {
	full := "NAME=a-1\nIP=10.213.0.6\nDNS_NAME=a-1.vmgate.test\nTLS_PORT=16514\n" +
		"CA_FILE=/s/ca\nCERT_FILE=/s/cert\nKEY_FILE=/s/key\nPKI_PATH=/s/pki\nOTHER_CA_FILE=/s/other\n" +
		"SSH_USER=root\nSSH_PORT=22\nSSH_KEY_FILE=/s/k\nSSH_KNOWN_HOSTS=/s/kh\nSSH_HOST_KEY=/s/hk\n" +
		"SOCKET=/s/sock\nNODE_XML=/s/node.xml\nSTATE_DIR=/s\n" +
		"TLS_URI=test+tls://10.213.0.6/s/node.xml\nSSH_URI=test+ssh://root@10.213.0.6/s/node.xml?socket=/s/sock\n"
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"complete", full, false},
		{"noise around", "starting...\n" + full + "lower=ignored\n", false},
		{"empty socket", strings.Replace(full, "SOCKET=/s/sock", "SOCKET=", 1), true},
		{"bad port", full + "TLS_PORT=x\n", true},
		{"empty", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseEnv([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseEnv: err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (h.IP != "10.213.0.6" || h.TLSPort != 16514 || h.Socket != "/s/sock") {
				t.Errorf("parseEnv = %+v", h)
			}
		})
	}
}

// TestStartHost checks the test bed itself with go-libvirt's own dialers, independent
// of package hosts: both endpoints serve the fixture; cut, restore, crash and restart.
func TestStartHost(t *testing.T) {
	h := StartHost(t, "hoststest")
	for _, f := range []string{h.CAFile, h.CertFile, h.KeyFile, h.OtherCAFile, h.SSHKeyFile, h.SSHKnownHosts, h.NodeXML} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("fact file: %v", err)
		}
	}
	tlsDialer := func() socket.Dialer {
		return dialers.NewTLS(h.IP, dialers.UsePKIPath(h.PKIPath))
	}
	sshDialer := func() socket.Dialer {
		return dialers.NewSSH(h.IP, dialers.UseSSHUsername(h.SSHUser), dialers.UseKeyFile(h.SSHKeyFile),
			dialers.UseKnownHostsFile(h.SSHKnownHosts), dialers.WithRemoteSocket(h.Socket))
	}
	want := []string{h.Name + "-vm1", h.Name + "-vm2"}
	check := func(t *testing.T, d socket.Dialer) {
		t.Helper()
		got, err := listDomains(d, "test://"+h.NodeXML)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("domains = %v, want %v", got, want)
		}
	}
	t.Run("tls", func(t *testing.T) { check(t, tlsDialer()) })
	t.Run("ssh", func(t *testing.T) { check(t, sshDialer()) })
	t.Run("cut and restore", func(t *testing.T) {
		h.Cut(t)
		addr := net.JoinHostPort(h.IP, strconv.Itoa(h.TLSPort))
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Fatalf("connected to %s over a cut link", addr)
		}
		h.Restore(t)
		check(t, tlsDialer())
	})
	t.Run("libvirtd crash and restart", func(t *testing.T) {
		h.KillLibvirtd(t)
		if _, err := listDomains(tlsDialer(), "test://"+h.NodeXML); err == nil {
			t.Fatal("connected to a killed libvirtd")
		}
		h.Up(t)
		check(t, tlsDialer())
		check(t, sshDialer())
	})
}

func listDomains(d socket.Dialer, uri string) ([]string, error) {
	l := libvirt.NewWithDialer(d)
	done := make(chan error, 1)
	go func() { done <- l.ConnectToURI(libvirt.ConnectURI(uri)) }()
	select {
	case err := <-done:
		if err != nil {
			return nil, err
		}
	case <-time.After(30 * time.Second): // a hang bound, not a timing assertion
		return nil, os.ErrDeadlineExceeded
	}
	defer l.Disconnect()
	doms, _, err := l.ConnectListAllDomains(1, 0)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, d := range doms {
		names = append(names, d.Name)
	}
	slices.Sort(names)
	return names, nil
}
