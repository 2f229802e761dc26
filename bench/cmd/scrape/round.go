package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmgate/vmgate/bench/internal/lat"
)

// target is one scrape target: the URL Prometheus would GET.
type target struct{ name, url string }

// scrape is one target's answer in a round.
type scrape struct {
	dur      time.Duration
	err      string // "" when HTTP 200 with a body
	body     bodyStats
	complete bool // every VM of the host listed
}

// bodyStats is what a scrape's text exposition holds.
type bodyStats struct {
	samples  int // sample lines (not comments)
	vms      int // distinct values of the VM label in the VM metric's samples
	varbinds int // snmp_scrape_pdus_returned (snmp_exporter only)
}

// parseBody counts the samples of a Prometheus text exposition, the distinct values of
// label vmLabel among the samples of metric vmMetric, and reads snmp_exporter's
// snmp_scrape_pdus_returned.
func parseBody(r io.Reader, vmMetric, vmLabel string) (bodyStats, error) {
	var st bodyStats
	vms := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		st.samples++
		name, rest, _ := strings.Cut(l, "{")
		if name == vmMetric {
			if v, ok := labelValue(rest, vmLabel); ok {
				vms[v] = true
			}
		}
		if v, ok := strings.CutPrefix(l, "snmp_scrape_pdus_returned "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			st.varbinds = int(f)
		}
	}
	st.vms = len(vms)
	return st, sc.Err()
}

// labelValue finds label="value" in the label part of a sample line (after '{'). Values
// with escaped quotes are not expected in the labels looked up.
func labelValue(labels, label string) (string, bool) {
	for {
		i := strings.Index(labels, label+`="`)
		if i < 0 {
			return "", false
		}
		if i == 0 || labels[i-1] == ',' {
			v := labels[i+len(label)+2:]
			j := strings.IndexByte(v, '"')
			if j < 0 {
				return "", false
			}
			return v[:j], true
		}
		labels = labels[i+len(label)+2:]
	}
}

// scrapeAll GETs every target at once, as Prometheus does at the start of an interval,
// each bounded by limit, and returns their answers in targets' order. wantVMs is the
// number of VMs a complete answer lists.
func scrapeAll(ctx context.Context, c *http.Client, targets []target, timeout time.Duration,
	vmMetric, vmLabel string, wantVMs int) []scrape {
	out := make([]scrape, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = scrapeOne(ctx, c, t, timeout, vmMetric, vmLabel)
			out[i].complete = out[i].err == "" && out[i].body.vms == wantVMs
		}()
	}
	wg.Wait()
	return out
}

func scrapeOne(ctx context.Context, c *http.Client, t target, timeout time.Duration, vmMetric, vmLabel string) scrape {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return scrape{err: err.Error()}
	}
	// What Prometheus sends with every scrape.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64))
	resp, err := c.Do(req)
	if err != nil {
		return scrape{dur: time.Since(start), err: err.Error()}
	}
	defer resp.Body.Close()
	st, err := parseBody(resp.Body, vmMetric, vmLabel)
	s := scrape{dur: time.Since(start), body: st}
	switch {
	case err != nil:
		s.err = err.Error()
	case resp.StatusCode != 200:
		s.err = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return s
}

// roundStats summarises one round of scrapes.
type roundStats struct {
	n, failed, incomplete int
	p50, p90, max         time.Duration
	samples, varbinds     int
	vms                   int
	firstErr              string
}

func summarise(ss []scrape) roundStats {
	r := roundStats{n: len(ss)}
	var durs []time.Duration
	for _, s := range ss {
		durs = append(durs, s.dur)
		r.samples += s.body.samples
		r.varbinds += s.body.varbinds
		r.vms += s.body.vms
		if s.err != "" {
			r.failed++
			if r.firstErr == "" {
				r.firstErr = s.err
			}
		} else if !s.complete {
			r.incomplete++
		}
	}
	if len(durs) > 0 {
		r.p50, r.p90, r.max = lat.Pct(durs, 50), lat.Pct(durs, 90), lat.Pct(durs, 100)
	}
	return r
}

// ok: every target answered 200, listed all its VMs, and within limit.
func (r roundStats) ok(limit time.Duration) bool {
	return r.n > 0 && r.failed == 0 && r.incomplete == 0 && r.max <= limit
}

// waitUntil sleeps until t or ctx ends.
func waitUntil(ctx context.Context, t time.Time) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Until(t)):
		return nil
	}
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }
