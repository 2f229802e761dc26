package enables

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultsSetAndReopen(t *testing.T) {
	dir := t.TempDir()
	f, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if f.PerVM() != DefaultPerVM || f.Bulk() != DefaultBulk {
		t.Fatalf("fresh: perVM %v bulk %v, want the defaults", f.PerVM(), f.Bulk())
	}
	if err := f.SetPerVM(false); err != nil {
		t.Fatal(err)
	}
	if err := f.SetBulk(true); err != nil {
		t.Fatal(err)
	}
	g, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if g.PerVM() || !g.Bulk() {
		t.Errorf("reopened: perVM %v bulk %v, want false true", g.PerVM(), g.Bulk())
	}
}

func TestBadFileNamesFileAndField(t *testing.T) {
	for _, tc := range []struct{ content, want string }{
		{`{`, FileName},
		{`{"vmBulkNotificationsEnabled": "yes"}`, "vmBulkNotificationsEnabled"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error naming %s", tc.content, err, tc.want)
		}
	}
}

func TestFailedWriteKeepsValue(t *testing.T) {
	f, err := Open(filepath.Join(t.TempDir(), "missing-dir"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetBulk(true); err == nil {
		t.Fatal("SetBulk into a missing directory succeeded")
	}
	if f.Bulk() {
		t.Error("Bulk changed although the file was not written")
	}
}
