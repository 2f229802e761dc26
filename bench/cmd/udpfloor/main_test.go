package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary be the echo server of TestMeasure.
func TestMain(m *testing.M) {
	if os.Getenv("UDPFLOOR_SERVE") == "1" {
		os.Exit(run([]string{"-serve", "-size", "100"}, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestMeasure runs the client against the Go echo server (this binary) for a few
// requests: it reports per-request figures and ends the server.
func TestMeasure(t *testing.T) {
	t.Setenv("UDPFLOOR_SERVE", "1")
	var out, errb bytes.Buffer
	if code := run([]string{"-n", "50", "-think", "0", "--", os.Args[0]}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "requests=50 cpu_us_per_request=") {
		t.Fatalf("output %q", out.String())
	}
}

func TestRunRefusesNoServer(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "no server command") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}
