package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestHACheck runs deploy/ha/vmgate-check, keepalived's health check, against a
// gateway: it succeeds while the gateway answers its user and fails once it stops, or
// with a wrong passphrase.
func TestHACheck(t *testing.T) {
	check := User{Name: "vmgate-check", AuthProtocol: "SHA-256", AuthPassphrase: "check-passphrase-1",
		Access: "read-only", Contexts: []string{""}}
	g := Start(t, binary(t), Config{Users: []User{admin, check}})
	script, err := filepath.Abs("../deploy/ha/vmgate-check")
	if err != nil {
		t.Fatal(err)
	}
	run := func(pass string) error {
		cmd := exec.Command(script)
		cmd.Env = append(os.Environ(), "VMGATE_CHECK_ADDR="+g.Addr, "VMGATE_CHECK_AUTH="+pass)
		return cmd.Run()
	}
	if err := run(check.AuthPassphrase); err != nil {
		t.Fatalf("check of a serving gateway: %v", err)
	}
	if err := run("a wrong passphrase"); err == nil {
		t.Error("check with a wrong passphrase succeeded")
	}
	g.Stop(t)
	if err := run(check.AuthPassphrase); err == nil {
		t.Error("check of a stopped gateway succeeded")
	}
}
