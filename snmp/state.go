package snmp

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// EngineIDEnterprise is the IANA enterprise number in generated engine IDs. A
// placeholder, like SysObjectID, until vmgate has a registered number.
const EngineIDEnterprise = 7466

const (
	stateFile = "engine.yaml"
	maxBoots  = 2147483647 // RFC 3414 section 2.2.2: stays there once reached
)

// engineState is what survives restarts (RFC 3414 snmpEngineID and snmpEngineBoots).
type engineState struct {
	EngineID string `yaml:"engine_id"` // hex
	Boots    uint32 `yaml:"boots"`
}

// loadState reads the state in dir, creating an engine ID on first use, and persists
// boots+1. It returns the engine ID and the boots value of this run.
func loadState(dir string) ([]byte, uint32, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, 0, fmt.Errorf("state dir: %w", err)
	}
	path := filepath.Join(dir, stateFile)
	var st engineState
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, 0, fmt.Errorf("engine state: %w", err)
	default:
		if err := yaml.Unmarshal(b, &st); err != nil {
			return nil, 0, fmt.Errorf("engine state %s: %w", path, err)
		}
	}
	id, err := hex.DecodeString(st.EngineID)
	if err != nil || (st.EngineID != "" && (len(id) < 5 || len(id) > 32)) {
		return nil, 0, fmt.Errorf("engine state %s: engine_id %q: not 5..32 hex octets", path, st.EngineID)
	}
	if len(id) == 0 {
		if id, err = newEngineID(); err != nil {
			return nil, 0, err
		}
	}
	if st.Boots < maxBoots {
		st.Boots++
	}
	st.EngineID = hex.EncodeToString(id)
	out, err := yaml.Marshal(st)
	if err != nil {
		return nil, 0, fmt.Errorf("engine state: %w", err)
	}
	if err := writeFileAtomic(path, out); err != nil {
		return nil, 0, fmt.Errorf("engine state: %w", err)
	}
	return id, st.Boots, nil
}

// newEngineID builds an RFC 3411 engine ID: enterprise number with the high bit set,
// format 5 (administratively assigned octets) and 8 random octets.
func newEngineID() ([]byte, error) {
	id := binary.BigEndian.AppendUint32(nil, 0x80000000|EngineIDEnterprise)
	id = append(id, 5)
	r := make([]byte, 8)
	if _, err := rand.Read(r); err != nil {
		return nil, fmt.Errorf("engine ID: %w", err)
	}
	return append(id, r...), nil
}

// writeFileAtomic writes through a synced temporary file and a rename, so a crash
// leaves either the old or the new content.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
