package e2e

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// vmgateBin is the binary TestMain built; skipReason says why the tests cannot run.
var vmgateBin, skipReason string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		skipReason = "-short runs unit tests only"
		return m.Run()
	}
	if err := NetSNMPMissing(); err != nil {
		skipReason = err.Error()
		return m.Run()
	}
	if bin := os.Getenv("VMGATE_E2E_BIN"); bin != "" {
		vmgateBin = bin // a prebuilt binary, e.g. from make build
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "vmgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if vmgateBin, err = Build(root, dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// binary returns the vmgate binary or skips the test, loudly, when it cannot run.
func binary(t *testing.T) string {
	t.Helper()
	if skipReason != "" {
		t.Skipf("SKIPPING vmgate end-to-end test: %s", skipReason)
	}
	return vmgateBin
}
