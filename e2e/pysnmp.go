package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Python is the interpreter that has pysnmp 4.4 (Debian's python3-pysnmp4).
const Python = "/usr/bin/python3"

// PyRequest is one request of testdata/pysnmp_client.py. Host and Port are filled in by
// Gateway.PySNMP.
type PyRequest struct {
	Host           string     `json:"host"`
	Port           int        `json:"port"`
	Version        string     `json:"version"`
	Community      string     `json:"community,omitempty"`
	User           string     `json:"user,omitempty"`
	AuthProtocol   string     `json:"auth_protocol,omitempty"`
	AuthPassphrase string     `json:"auth_passphrase,omitempty"`
	PrivProtocol   string     `json:"priv_protocol,omitempty"`
	PrivPassphrase string     `json:"priv_passphrase,omitempty"`
	Context        string     `json:"context"`
	Op             string     `json:"op"` // get, next, walk, set
	OIDs           []string   `json:"oids,omitempty"`
	SetValues      [][]string `json:"set_values,omitempty"` // [oid, "i"|"s", value]
	Timeout        float64    `json:"timeout,omitempty"`
}

// PyRequestFor fills the credential fields from cred.
func PyRequestFor(cred Cred, op string, oids ...string) PyRequest {
	return PyRequest{
		Version: cred.Version, Community: cred.Community, User: cred.User,
		AuthProtocol: cred.AuthProto, AuthPassphrase: cred.AuthPass,
		PrivProtocol: cred.PrivProto, PrivPassphrase: cred.PrivPass,
		Context: cred.Context, Op: op, OIDs: oids,
	}
}

// PyResult is what the script printed.
type PyResult struct {
	ErrorIndication *string    `json:"error_indication"`
	ErrorStatus     *string    `json:"error_status"`
	ErrorIndex      int        `json:"error_index"`
	VarBinds        [][]string `json:"varbinds"` // [oid, pysnmp type name, value]
}

func (r PyResult) String() string {
	s := func(p *string) string {
		if p == nil {
			return "-"
		}
		return *p
	}
	return fmt.Sprintf("error_indication=%s error_status=%s error_index=%d varbinds=%v",
		s(r.ErrorIndication), s(r.ErrorStatus), r.ErrorIndex, r.VarBinds)
}

// PySNMPMissing says why pysnmp cannot be used, or nil.
func PySNMPMissing() error {
	out, err := exec.Command(Python, "-c", "import pysnmp; print(pysnmp.__version__)").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import pysnmp (apt-get install python3-pysnmp4): %w: %s", Python, err, out)
	}
	return nil
}

// PySNMP runs one request with pysnmp against the gateway and fails the test if the
// script itself fails (an SNMP error is a result, not a failure).
func (g *Gateway) PySNMP(t testing.TB, req PyRequest) PyResult {
	t.Helper()
	req.Host, req.Port = "127.0.0.1", g.Port
	if req.Timeout == 0 {
		req.Timeout = 5
	}
	arg, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Python, scriptPath(), string(arg))
	cmd.Env = append(os.Environ(), "HOME="+filepath.Join(g.Dir, "netsnmp"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("pysnmp %s: %v\nstdout: %s\nstderr: %s", arg, err, out.String(), errb.String())
	}
	var res PyResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("pysnmp output %q: %v", out.String(), err)
	}
	return res
}

// scriptPath finds testdata/pysnmp_client.py next to this file, whatever the test's
// working directory (other packages may use these helpers).
func scriptPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", "pysnmp_client.py")
}
