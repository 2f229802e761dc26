package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vmgate/vmgate/gateway/web"
	"github.com/vmgate/vmgate/hosts"
	"github.com/vmgate/vmgate/snmp"
)

// maxConfigSize bounds what LoadConfig reads: a config is a few KiB, a bigger file is a
// mistake (a disk image passed to --config), not a configuration.
const maxConfigSize = 4 << 20

// Config is vmgate's configuration file.
type Config struct {
	SNMP      snmp.Config     `yaml:"snmp"`
	Hosts     []hosts.Config  `yaml:"hosts"`
	Templates TemplatesConfig `yaml:"templates"`
	Registry  RegistryConfig  `yaml:"registry"`
	Replica   ReplicaConfig   `yaml:"replica"`
	HTTP      web.Config      `yaml:"http"`

	// Warnings are problems that do not stop vmgate (an over-permissive file mode, a
	// read-write community...); the caller logs them.
	Warnings []string `yaml:"-"`
}

// LogValue renders the configuration for slog as YAML with every secret as <secret>,
// so logging it whole is safe with any handler (JSON would otherwise print secrets).
func (c Config) LogValue() slog.Value {
	out, err := yaml.Marshal(c)
	if err != nil {
		return slog.StringValue("<unprintable config: " + err.Error() + ">")
	}
	return slog.StringValue(string(out))
}

// TemplatesConfig says where the domain XML templates used to create VMs by SET live.
type TemplatesConfig struct {
	// Dir holds one domain XML file per template (*.xml). Empty: no templates, VM
	// creation by SET is refused.
	Dir string `yaml:"dir"`
}

// ConfigError lists every problem found in one config file. Error() prints one problem
// per line, each prefixed with the file name.
type ConfigError struct {
	Path string
	Errs []error
	// Warnings found in a file that decoded but did not validate; --check prints them
	// too, so one run shows everything.
	Warnings []string
}

func (e *ConfigError) Error() string {
	var b bytes.Buffer
	for i, err := range e.Errs {
		if i > 0 {
			b.WriteByte('\n')
		}
		if e.Path != "" {
			b.WriteString(e.Path)
			b.WriteString(": ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e *ConfigError) Unwrap() []error { return e.Errs }

// LoadConfig reads, decodes strictly, defaults and validates the file at path. Every
// problem comes back at once in a *ConfigError.
func LoadConfig(path string) (*Config, error) {
	data, mode, err := readConfig(path)
	if err != nil {
		return nil, &ConfigError{Path: path, Errs: []error{err}}
	}
	var modeWarning []string
	if mode&0o077 != 0 {
		modeWarning = []string{fmt.Sprintf(
			"config file %s has mode %#o: group/others may read its secrets; chmod 600 it",
			path, mode)}
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		ce := &ConfigError{Path: path, Errs: []error{err}, Warnings: modeWarning}
		var pe *ConfigError
		if errors.As(err, &pe) {
			ce.Errs = pe.Errs
			ce.Warnings = append(ce.Warnings, pe.Warnings...)
		}
		return nil, ce
	}
	cfg.Warnings = append(modeWarning, cfg.Warnings...)
	cfg.Warnings = append(cfg.Warnings, cfg.fileWarnings()...)
	return cfg, nil
}

// fileWarnings checks the files the config names: missing ones (the config may be
// checked on another machine than the one it is for, so not an error) and private
// keys that group/others can read.
func (c *Config) fileWarnings() []string {
	var w []string
	check := func(where, file string, private bool) {
		if file == "" {
			return
		}
		fi, err := os.Stat(file)
		switch {
		case err != nil:
			w = append(w, fmt.Sprintf("%s: %q: %v", where, file, errors.Unwrap(err)))
		case fi.IsDir():
			w = append(w, fmt.Sprintf("%s: %q is a directory, not a file", where, file))
		case private && fi.Mode().Perm()&0o077 != 0:
			w = append(w, fmt.Sprintf("%s: private key %q has mode %#o: chmod 600 it", where, file, fi.Mode().Perm()))
		}
	}
	for i, h := range c.Hosts {
		p := fmt.Sprintf("hosts[%d] %q: ", i, h.Name)
		check(p+"tls.ca_file", h.TLS.CAFile, false)
		check(p+"tls.cert_file", h.TLS.CertFile, false)
		check(p+"tls.key_file", h.TLS.KeyFile, true)
		check(p+"ssh.key_file", h.SSH.KeyFile, true)
		check(p+"ssh.known_hosts", h.SSH.KnownHosts, false)
	}
	check("registry.tls.ca_file", c.Registry.TLS.CAFile, false)
	check("registry.tls.cert_file", c.Registry.TLS.CertFile, false)
	check("registry.tls.key_file", c.Registry.TLS.KeyFile, true)
	if d := c.Templates.Dir; d != "" {
		if fi, err := os.Stat(d); err != nil {
			w = append(w, fmt.Sprintf("templates.dir: %q: %v; VM creation by SET will fail", d, errors.Unwrap(err)))
		} else if !fi.IsDir() {
			w = append(w, fmt.Sprintf("templates.dir: %q is not a directory", d))
		}
	}
	return w
}

func readConfig(path string) ([]byte, os.FileMode, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read: %w", err)
	}
	if len(data) > maxConfigSize {
		return nil, 0, fmt.Errorf("larger than %d bytes: not a config file", maxConfigSize)
	}
	return data, fi.Mode().Perm(), nil
}

// ParseConfig decodes one YAML document strictly (unknown keys are errors, with their
// line), applies defaults and validates. It does no I/O.
func ParseConfig(data []byte) (*Config, error) {
	cfg, err := decode(data)
	if err != nil {
		return nil, err
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		w := append(cfg.warnings(), cfg.fileWarnings()...)
		return nil, &ConfigError{Errs: flatten(err), Warnings: w}
	}
	cfg.Warnings = append(cfg.Warnings, cfg.warnings()...)
	return cfg, nil
}

func decode(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty: no YAML document (see config.example.yaml)")
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			errs := make([]error, len(te.Errors))
			for i, m := range te.Errors {
				errs[i] = errors.New(oneLine(m))
			}
			return nil, &ConfigError{Errs: errs}
		}
		return nil, errors.New("yaml syntax: " + oneLine(err.Error()))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document: want exactly one")
	}
	return &cfg, nil
}

// oneLine escapes the line breaks of a YAML error, which quotes the offending value:
// every problem prints on one line.
func oneLine(msg string) string {
	return strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`).Replace(msg)
}

// flatten turns a tree of joined errors into its leaves, so each prints on one line.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}
