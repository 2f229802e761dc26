package gateway

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfig writes a config file with the given mode into a fresh temp dir.
func writeConfig(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vmgate.yaml")
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask may have trimmed it
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigFile(t *testing.T) {
	tests := []struct {
		name     string
		mode     os.FileMode
		wantWarn string // substring of the first warning; "" = no mode warning
	}{
		{"owner only", 0o600, ""},
		{"owner read-only", 0o400, ""},
		{"group readable", 0o640, "has mode 0640: group/others may read its secrets"},
		{"world readable", 0o644, "has mode 0644"},
		{"group writable", 0o620, "has mode 0620"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, minimalYAML, tt.mode)
			cfg, err := LoadConfig(p)
			if err != nil {
				t.Fatal(err)
			}
			var modeWarn string
			for _, w := range cfg.Warnings {
				if strings.Contains(w, "has mode") {
					modeWarn = w
				}
			}
			switch {
			case tt.wantWarn == "" && modeWarn != "":
				t.Errorf("unexpected warning %q", modeWarn)
			case tt.wantWarn != "" && !strings.Contains(modeWarn, tt.wantWarn):
				t.Errorf("warnings %q lack %q", cfg.Warnings, tt.wantWarn)
			case tt.wantWarn != "" && !strings.Contains(modeWarn, p):
				t.Errorf("warning %q does not name the file %s", modeWarn, p)
			}
		})
	}
}

func TestLoadConfigErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path func(t *testing.T) string
		want string
	}{
		{"missing", func(*testing.T) string { return filepath.Join(dir, "nope.yaml") }, "no such file"},
		{"directory", func(*testing.T) string { return dir }, "not a regular file"},
		{"empty", func(t *testing.T) string { t.Helper(); return writeConfig(t, "", 0o600) }, "empty"},
		{"syntax", func(t *testing.T) string { t.Helper(); return writeConfig(t, "snmp: [\n", 0o600) }, "yaml syntax"},
		{"unknown key", func(t *testing.T) string { t.Helper(); return writeConfig(t, minimalYAML+"x: 1\n", 0o600) }, "line 8: field x not found"},
		{"invalid", func(t *testing.T) string { t.Helper(); return writeConfig(t, "snmp: {}\n", 0o600) }, "snmp.state_dir"},
		{"too big", func(t *testing.T) string {
			t.Helper()
			return writeConfig(t, minimalYAML+"#"+strings.Repeat("x", maxConfigSize)+"\n", 0o600)
		}, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.path(t)
			_, err := LoadConfig(p)
			if err == nil {
				t.Fatal("LoadConfig succeeded, want an error")
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *ConfigError", err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, p+": ") {
					t.Errorf("line %q does not start with the file name", line)
				}
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

func TestFileWarnings(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(key, []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, "plain")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	body := minimalYAML + fmt.Sprintf(`    tls: {ca_file: %s/missing-ca.pem}
  - name: kvm-2
    uri: "qemu+ssh://root@kvm-2/system"
    ssh: {key_file: %s, known_hosts: %s}
  - name: kvm-3
    uri: "qemu+ssh://root@kvm-3/system"
    ssh: {key_file: %s}
templates: {dir: %s}
`, dir, key, filepath.Join(dir, "kh"), dir, notDir)
	cfg, err := LoadConfig(writeConfig(t, body, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(cfg.Warnings, "\n")
	for _, w := range []string{
		`hosts[0] "kvm-1": tls.ca_file: "` + dir + `/missing-ca.pem": no such file or directory`,
		`hosts[1] "kvm-2": ssh.key_file: private key "` + key + `" has mode 0644`,
		`hosts[1] "kvm-2": ssh.known_hosts: "` + dir + `/kh": no such file`,
		`templates.dir: "` + notDir + `" is not a directory`,
		// A directory given as a key used to read "private key DIR has mode 0700: chmod 600 it".
		`hosts[2] "kvm-3": ssh.key_file: "` + dir + `" is a directory, not a file`,
	} {
		if !strings.Contains(all, w) {
			t.Errorf("warnings lack %q:\n%s", w, all)
		}
	}
}
