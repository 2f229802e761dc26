// Command vmgate serves the VMs of many libvirt hypervisors as one SNMP agent.
//
//	vmgate --config /etc/vmgate/vmgate.yaml [--check] [--log.format text|json] [--log.level info]
//	vmgate --version
//	vmgate --print-mib > VIRTUAL-MACHINES-MIB.txt
//	vmgate --config FILE registry export OUT   # the registry (file or etcd) as indexes.json
//	vmgate --config FILE registry import IN    # into an empty registry, numbers unchanged
//
// SIGINT and SIGTERM stop it cleanly; SIGHUP reloads the configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/vmgate/vmgate/gateway"
	"github.com/vmgate/vmgate/mib"
)

// version is set at build time: -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is main with its outputs and exit code explicit.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vmgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration `FILE` (YAML); required")
	check := fs.Bool("check", false, "validate the configuration, print every problem and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	printMIB := fs.Bool("print-mib", false, "write the VIRTUAL-MACHINES-MIB module text to stdout and exit")
	logFormat := fs.String("log.format", "text", "log format: text or json")
	logLevel := fs.String("log.level", "info", "log level: debug, info, warn or error")
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() > 0 && fs.Arg(0) != "registry":
		fmt.Fprintf(stderr, "vmgate: unexpected arguments %q\n", fs.Args())
		return 2
	case *showVersion:
		fmt.Fprintf(stdout, "vmgate %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case *printMIB:
		if _, err := stdout.Write(mib.ModuleText()); err != nil {
			fmt.Fprintf(stderr, "vmgate: %v\n", err)
			return 1
		}
		return 0
	case *configPath == "":
		fmt.Fprintln(stderr, "vmgate: --config FILE is required")
		return 2
	}
	logger, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "vmgate: %v\n", err)
		return 2
	}
	if *check {
		return checkConfig(*configPath, stdout, stderr)
	}
	if fs.NArg() > 0 {
		return registryCmd(*configPath, fs.Args()[1:], logger, stderr)
	}
	return serve(*configPath, logger)
}

// checkConfig is --check: every problem on its own line on stderr, exit 1 on any.
func checkConfig(path string, stdout, stderr io.Writer) int {
	cfg, err := gateway.LoadConfig(path)
	var warnings []string
	var ce *gateway.ConfigError
	switch {
	case err == nil:
		warnings = cfg.Warnings
	case errors.As(err, &ce):
		warnings = ce.Warnings
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, "config OK")
	return 0
}

// registryCmd is `registry export OUT` and `registry import IN`: the registry moves
// between the state directory and etcd without renumbering. Export never overwrites.
func registryCmd(path string, args []string, logger *slog.Logger, stderr io.Writer) int {
	if len(args) != 2 || (args[0] != "export" && args[0] != "import") {
		fmt.Fprintln(stderr, "vmgate: usage: vmgate --config FILE registry export|import PATH")
		return 2
	}
	cfg, err := gateway.LoadConfig(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if args[0] == "export" {
		err = exportRegistry(cfg, logger, args[1])
	} else {
		var data []byte
		if data, err = os.ReadFile(args[1]); err == nil {
			err = gateway.ImportRegistry(cfg, logger, data)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "vmgate: registry %s: %v\n", args[0], err)
		return 1
	}
	logger.Info("registry "+args[0]+"ed", "backend", cfg.Registry.Backend, "file", args[1])
	return 0
}

func exportRegistry(cfg *gateway.Config, logger *slog.Logger, out string) error {
	data, err := gateway.ExportRegistry(cfg, logger)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func serve(path string, logger *slog.Logger) int {
	// Signals first: a SIGHUP sent during start-up must not kill the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	cfg, err := gateway.LoadConfig(path)
	if err != nil {
		logConfigError(logger, err)
		logger.Error("cannot start: invalid configuration", "file", path)
		return 1
	}
	logger.Info("vmgate starting", "version", version, "config", path)
	opts := gateway.Options{Version: version, ConfigPath: path, Reload: hup}
	if err := gateway.Run(ctx, cfg, logger, opts); err != nil {
		logger.Error("vmgate failed", "err", err)
		return 1
	}
	logger.Info("vmgate stopped")
	return 0
}

// usage is --help: the synopsis, every flag, the signals and where to read more.
func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, `vmgate serves the VMs of many libvirt hypervisors as one SNMP agent.

Usage:
  vmgate --config FILE [--log.format text|json] [--log.level LEVEL]   serve
  vmgate --config FILE --check                 validate FILE, print every problem
  vmgate --config FILE registry export OUT     the index registry as indexes.json
  vmgate --config FILE registry import IN      into an empty registry, numbers kept
  vmgate --print-mib                           the VIRTUAL-MACHINES-MIB module text
  vmgate --version

Flags:
`)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Signals: SIGINT and SIGTERM stop it cleanly; SIGHUP reloads FILE (a file with
problems is logged and the running configuration kept).
Configuration reference: docs/configuration.md (in the package:
/usr/share/doc/vmgate/), and man 8 vmgate.
`)
}

func logConfigError(logger *slog.Logger, err error) {
	var ce *gateway.ConfigError
	if !errors.As(err, &ce) {
		logger.Error("config", "err", err)
		return
	}
	for _, w := range ce.Warnings {
		logger.Warn("config: " + w)
	}
	for _, e := range ce.Errs {
		logger.Error("config problem", "file", ce.Path, "err", e)
	}
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log.level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log.format %q: want text or json", format)
}
