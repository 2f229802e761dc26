package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// callCounts reads, from the gateway's /metrics, how many libvirt calls its hosts
// have made so far by procedure (vmgate_libvirt_call_duration_seconds_count, every
// host's calls; summed should a host label come back). Read outside the steady
// window: the scrape is not the gateway's polling.
func (b *bench) callCounts() (map[string]float64, error) {
	addr := b.g.HTTPAddr()
	if addr == nil {
		return nil, fmt.Errorf("no HTTP listener")
	}
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	return parseCallCounts(resp.Body)
}

// parseCallCounts sums the call counts of a Prometheus text exposition by procedure.
func parseCallCounts(r io.Reader) (map[string]float64, error) {
	const metric = "vmgate_libvirt_call_duration_seconds_count{"
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), metric)
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(line, "} ")
		if !ok {
			continue
		}
		_, proc, ok := strings.Cut(labels, `procedure="`)
		if !ok {
			continue
		}
		proc, _, _ = strings.Cut(proc, `"`)
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", sc.Text(), err)
		}
		out[proc] += v
	}
	return out, sc.Err()
}

// callSplit formats the calls made between two counts, per host and round, most
// first.
func callSplit(before, after map[string]float64, perRound float64) string {
	type pc struct {
		proc string
		n    float64
	}
	var all []pc
	for p, n := range after {
		if d := n - before[p]; d > 0 {
			all = append(all, pc{p, d / perRound})
		}
	}
	slices.SortFunc(all, func(a, b pc) int {
		if a.n != b.n {
			if a.n > b.n {
				return -1
			}
			return 1
		}
		return strings.Compare(a.proc, b.proc)
	})
	var s []string
	for _, x := range all {
		s = append(s, fmt.Sprintf("%s %.2f", x.proc, x.n))
	}
	return strings.Join(s, ", ")
}
