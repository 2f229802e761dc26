// Command synthagent serves a synthetic table through vmgate's SNMP engine, for the
// benchmark in bench/run: COLS columns x ROWS rows under 1.3.6.1.4.1.99999.1.1 (a sorted
// slice of row indexes, binary search in Next). It prints "listening ADDR" once bound and
// runs until SIGINT/SIGTERM.
//
//	synthagent [-listen udp:127.0.0.1:0] [-rows 100000] [-cols 5 | -null] [-community public]
//	           [-user bench -auth SHA-256 -auth-pass ... -priv AES -priv-pass ...]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmgate/vmgate/snmp"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("synthagent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "udp:127.0.0.1:0", "listen `ADDRESS` (port 0: any free port)")
	rows := fs.Int("rows", 100000, "table rows")
	cols := fs.Int("cols", 5, "table columns (1-5)")
	null := fs.Bool("null", false, "serve the null table instead: one Integer column of -rows rows, Next by arithmetic (the engine's floor)")
	community := fs.String("community", "public", "read-only v2c community")
	stateDir := fs.String("state-dir", "", "engine state directory (default: a temporary one)")
	workers := fs.Int("workers", 0, "engine workers (0: engine default)")
	user := fs.String("user", "bench", "read-only SNMPv3 user")
	auth := fs.String("auth", "SHA-256", "its auth protocol")
	authPass := fs.String("auth-pass", "bench-auth-pass", "its auth passphrase")
	priv := fs.String("priv", "AES", "its privacy protocol")
	privPass := fs.String("priv-pass", "bench-priv-pass", "its privacy passphrase")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *rows < 1 || *cols < 1 || *cols > 5 {
		fmt.Fprintln(stderr, "synthagent: need rows >= 1 and 1 <= cols <= 5")
		return 2
	}
	if *stateDir == "" {
		d, err := os.MkdirTemp("", "synthagent-")
		if err != nil {
			fmt.Fprintln(stderr, "synthagent:", err)
			return 1
		}
		defer os.RemoveAll(d)
		*stateDir = d
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := snmp.Config{
		Listen:      []string{*listen},
		StateDir:    *stateDir,
		SysName:     "synthagent",
		Communities: []snmp.Community{{Community: snmp.Secret(*community), Access: snmp.ReadOnly}},
		Users: []snmp.User{{
			Name: *user, AuthProtocol: *auth, AuthPassphrase: snmp.Secret(*authPass),
			PrivProtocol: *priv, PrivPassphrase: snmp.Secret(*privPass),
			Access: snmp.ReadOnly, Contexts: []string{""},
		}},
		Workers: *workers,
	}
	eng, err := snmp.New(cfg, snmp.WithLogger(logger), snmp.WithVersion("synthagent"))
	if err != nil {
		fmt.Fprintln(stderr, "synthagent:", err)
		return 1
	}
	if *null {
		eng.Register(tableRoot, newNullTable(*rows))
	} else {
		eng.Register(tableRoot, newTable(*rows, *cols))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- eng.Serve(ctx) }()
	select {
	case <-eng.Ready():
		for _, a := range eng.Addrs() {
			fmt.Fprintf(stdout, "listening %s %s\n", a.Network(), a.String())
		}
	case err := <-errc:
		fmt.Fprintln(stderr, "synthagent:", err)
		return 1
	}
	if err := <-errc; err != nil && ctx.Err() == nil {
		fmt.Fprintln(stderr, "synthagent:", err)
		return 1
	}
	return 0
}
