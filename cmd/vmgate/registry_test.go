package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmgate/vmgate/gateway/registry"
	"github.com/vmgate/vmgate/gateway/registry/etcdtest"
)

// TestRegistryExportImport: a file-backed gateway's registry moves to etcd and back
// through `vmgate registry export/import` with every number, release and counter as it
// was; import refuses a registry that already holds keys; export never overwrites.
func TestRegistryExportImport(t *testing.T) {
	c := etcdtest.Start(t)
	dir := t.TempDir()
	config := func(name, state, registryYAML string) string {
		return writeFile(t, dir, name, fmt.Sprintf(`
snmp: {listen: ["udp:127.0.0.1:0"], state_dir: %s}
hosts: []
%s`, filepath.Join(dir, state), registryYAML))
	}
	fileCfg := config("file.yaml", "state-file", "")
	backCfg := config("back.yaml", "state-back", "")
	etcdCfg := config("etcd.yaml", "state-etcd", fmt.Sprintf(
		"registry: {backend: etcd, endpoints: [%s], prefix: /moved/, timeout: 10s}\n",
		strings.Join(c.Endpoints(), ", ")))

	quiet := slog.New(slog.DiscardHandler)
	if err := os.MkdirAll(filepath.Join(dir, "state-file"), 0o700); err != nil {
		t.Fatal(err)
	}
	src, err := registry.OpenFile(filepath.Join(dir, "state-file", registry.FileName), quiet)
	if err != nil {
		t.Fatal(err)
	}
	want := map[[2]string]uint32{}
	for _, k := range [][2]string{{registry.NSVM, "a"}, {registry.NSVM, "b"}, {registry.NSStorage, "1/vda"}, {registry.NSVM, "c"}} {
		want[k] = src.Index(k[0], k[1])
	}
	if err := src.Bind(registry.NSVM, "bound", 40); err != nil {
		t.Fatal(err)
	}
	want[[2]string{registry.NSVM, "bound"}] = 40
	src.Release(registry.NSVM, "b")
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}

	vmgate := func(code int, args ...string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if got := run(args, &stdout, &stderr); got != code {
			t.Fatalf("vmgate %s: exit %d, want %d\n%s", strings.Join(args, " "), got, code, &stderr)
		}
	}
	dump := filepath.Join(dir, "dump.json")
	vmgate(0, "--config", fileCfg, "registry", "export", dump)
	vmgate(1, "--config", fileCfg, "registry", "export", dump) // exists: never overwritten
	vmgate(0, "--config", etcdCfg, "registry", "import", dump)
	vmgate(1, "--config", etcdCfg, "registry", "import", dump) // not empty

	check := func(what string, r registry.Store) {
		t.Helper()
		for k, id := range want {
			if got, ok := r.Lookup(k[0], k[1]); !ok || got != id {
				t.Errorf("%s: %v = %d, %v; want %d", what, k, got, ok, id)
			}
		}
		if r.Free(registry.NSVM, want[[2]string{registry.NSVM, "b"}]) {
			t.Errorf("%s: the released key's number is free", what)
		}
		if got := r.Index(registry.NSVM, "new"); got != 4 {
			t.Errorf("%s: a new key got %d, want 4 (the counter moved along)", what, got)
		}
	}
	e, err := registry.OpenEtcd(registry.EtcdConfig{Endpoints: c.Endpoints(), Prefix: "/moved/",
		DialTimeout: 10 * time.Second, Timeout: 10 * time.Second}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	check("etcd after import", e)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	back := filepath.Join(dir, "back.json")
	vmgate(0, "--config", etcdCfg, "registry", "export", back)
	vmgate(0, "--config", backCfg, "registry", "import", back)
	f, err := registry.OpenFile(filepath.Join(dir, "state-back", registry.FileName), quiet)
	if err != nil {
		t.Fatal(err)
	}
	for k, id := range want {
		if got, ok := f.Lookup(k[0], k[1]); !ok || got != id {
			t.Errorf("file after the round trip: %v = %d, %v; want %d", k, got, ok, id)
		}
	}
	if got, ok := f.Lookup(registry.NSVM, "new"); !ok || got != 4 {
		t.Errorf("file after the round trip: the key etcd allocated = %d, %v; want 4", got, ok)
	}
	if got := f.Index(registry.NSVM, "newer"); got != 5 {
		t.Errorf("file after the round trip: a new key got %d, want 5", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	vmgate(2, "--config", fileCfg, "registry", "move", dump)
}
