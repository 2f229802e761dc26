package gateway

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzLoadConfig feeds arbitrary bytes to the config parser: it must never panic, a
// config it accepts must validate again and marshal, and every error must be readable
// (one non-empty problem per line). Seeds: testdata/fuzz/FuzzLoadConfig and the example.
func FuzzLoadConfig(f *testing.F) {
	if data, err := os.ReadFile(exampleConfig); err == nil {
		f.Add(data)
	}
	f.Add([]byte(minimalYAML))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.TrimSpace(line) == "" {
					t.Fatalf("error has an empty line: %q", err)
				}
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted config does not validate again: %v", err)
		}
		if _, err := yaml.Marshal(cfg); err != nil {
			t.Fatalf("accepted config does not marshal: %v", err)
		}
	})
}
