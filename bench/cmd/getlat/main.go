// Command getlat measures SNMP GET latency: N sequential v2c GETs with gosnmp (one in
// flight at a time, after a short warm-up), printing percentiles in microseconds:
//
//	getlat -target 127.0.0.1:16161 -oid .1.3.6.1.2.1.1.3.0 -n 2000
//	n=2000 errors=0 p50_us=95 p90_us=120 p99_us=210 max_us=900 mean_us=101
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/bench/internal/target"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("getlat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	agent := fs.String("target", "127.0.0.1:161", "agent `HOST:PORT` (loopback)")
	community := fs.String("community", "public", "v2c community")
	oid := fs.String("oid", ".1.3.6.1.2.1.1.3.0", "OID to GET")
	n := fs.Int("n", 2000, "measured requests")
	warmup := fs.Int("warmup", 100, "unmeasured requests first")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	host, port, err := target.Parse(*agent)
	if err != nil {
		fmt.Fprintln(stderr, "getlat:", err)
		return 2
	}
	if *n < 1 {
		fmt.Fprintln(stderr, "getlat: bad -n")
		return 2
	}
	c := &gosnmp.GoSNMP{
		Target: host, Port: port, Community: *community, Version: gosnmp.Version2c,
		Timeout: 2 * time.Second, Retries: 0, MaxOids: gosnmp.MaxOids,
	}
	if err := c.Connect(); err != nil {
		fmt.Fprintln(stderr, "getlat:", err)
		return 1
	}
	defer c.Conn.Close()
	lat, errs := measure(c, *oid, *warmup, *n)
	if len(lat) == 0 {
		fmt.Fprintf(stderr, "getlat: all %d requests failed\n", *n)
		return 1
	}
	fmt.Fprintln(stdout, summarize(lat, errs))
	return 0
}

// measure does warmup+n GETs and returns the n latencies of the successful ones.
func measure(c *gosnmp.GoSNMP, oid string, warmup, n int) ([]time.Duration, int) {
	lat := make([]time.Duration, 0, n)
	errs := 0
	for i := range warmup + n {
		start := time.Now()
		res, err := c.Get([]string{oid})
		d := time.Since(start)
		if i < warmup {
			continue
		}
		if err != nil || len(res.Variables) != 1 || res.Error != gosnmp.NoError {
			errs++
			continue
		}
		lat = append(lat, d)
	}
	return lat, errs
}

func summarize(lat []time.Duration, errs int) string {
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	pct := func(p float64) int64 {
		i := int(p * float64(len(lat)-1))
		return lat[i].Microseconds()
	}
	return fmt.Sprintf("n=%d errors=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%d",
		len(lat), errs, pct(0.50), pct(0.90), pct(0.99), lat[len(lat)-1].Microseconds(),
		(sum / time.Duration(len(lat))).Microseconds())
}
