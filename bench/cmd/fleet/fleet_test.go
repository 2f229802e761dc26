package main

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name, line string
		ok         bool
		at         time.Time
		text       string
	}{
		{"suspended", "2026-11-23 19:32:20.502+0000: event 'lifecycle' for domain 'x': Suspended Paused", true,
			time.Date(2026, 11, 23, 19, 32, 20, 502e6, time.UTC), "event 'lifecycle' for domain 'x': Suspended Paused"},
		{"no timestamp", "event 'lifecycle' for domain 'x': Resumed Unpaused", false, time.Time{}, ""},
		{"empty", "", false, time.Time{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, ok := parseEvent(tt.line)
			if ok != tt.ok || !ev.at.Equal(tt.at) || ev.text != tt.text {
				t.Errorf("parseEvent = %+v, %v; want at %v text %q ok %v", ev, ok, tt.at, tt.text, tt.ok)
			}
		})
	}
}

// TestWriteNode checks the node file is XML with the wanted domains, UUIDs and MACs
// distinct across hosts.
func TestPct(t *testing.T) {
	xs := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{50, 5}, {99, 10}, {100, 10}, {0, 1}} {
		if got := pct(xs, tt.p); got != tt.want {
			t.Errorf("pct(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestParseCallCounts(t *testing.T) {
	text := `# HELP vmgate_libvirt_call_duration_seconds Time of libvirt calls.
vmgate_libvirt_call_duration_seconds_bucket{host="h1",procedure="keepalive",le="0.0005"} 3
vmgate_libvirt_call_duration_seconds_count{host="h1",procedure="keepalive"} 4
vmgate_libvirt_call_duration_seconds_count{host="h2",procedure="keepalive"} 6
vmgate_libvirt_call_duration_seconds_count{host="h2",procedure="DomainInterfaceAddresses"} 1.5e+01
vmgate_libvirt_call_errors_total{host="h2",procedure="keepalive"} 1
`
	got, err := parseCallCounts(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["keepalive"] != 10 || got["DomainInterfaceAddresses"] != 15 {
		t.Errorf("parseCallCounts: %v", got)
	}
	if s := callSplit(map[string]float64{"keepalive": 4}, got, 2); s != "DomainInterfaceAddresses 7.50, keepalive 3.00" {
		t.Errorf("callSplit: %q", s)
	}
}

func TestDriverURI(t *testing.T) {
	for _, tt := range []struct{ uri, want string }{
		{"test+unix:///tmp/x/node000.xml", "test:///tmp/x/node000.xml"},
		{"qemu+unix:///system", "qemu:///system"},
		{"test:///tmp/node.xml", ""},
		{"test+unix://relative", ""},
		{"+unix:///tmp/node.xml", ""},
	} {
		got, err := driverURI(tt.uri)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("driverURI(%q) = %q, %v; want %q", tt.uri, got, err, tt.want)
		}
	}
}

func TestParsePhases(t *testing.T) {
	for _, tt := range []struct {
		list       string
		floor, fst bool
		peer       bool
	}{
		{"view,floor,peer", true, false, true},
		{"floor,view", true, true, false},
		{" floor , view ", true, true, false},
		{"floor", true, false, false}, // view is implied, and runs first
		{"view,steady", false, false, false},
	} {
		set, first := parsePhases(tt.list)
		if !set["view"] || set["floor"] != tt.floor || first != tt.fst || set["peer"] != tt.peer {
			t.Errorf("parsePhases(%q) = %v, %v", tt.list, set, first)
		}
	}
}

func TestOverFloor(t *testing.T) {
	f := floorResult{Wall: 12 * time.Second, CPU: 3 * time.Second, LibvirtdCPU: 20 * time.Second}
	v := viewResult{wall: 19 * time.Second, cpu: 9 * time.Second, libvirtdCPU: 26800 * time.Millisecond}
	got := overFloorLines(f, v)
	for _, want := range []string{"vmgate 19.000 s, floor 12.000 s: vmgate over the floor +7.000 s (1.58x)",
		"gateway 9.00 s, floor 3.00 s: +6.00 s", "under vmgate 26.80 s, under the floor 20.00 s: +6.80 s"} {
		if !strings.Contains(got, want) {
			t.Errorf("overFloorLines lacks %q:\n%s", want, got)
		}
	}
	row := scaleRow(1000, 50, f, v, "before the view", 1900*1024)
	if want := "| 1000 x 50 | 19.00 s (9.00 / 26.80 s) | 12.00 s (3.00 / 20.00 s), before the view | +7.00 s (+6.00 / +6.80 s) | 1900 MiB |"; row != want {
		t.Errorf("scaleRow:\n got %s\nwant %s", row, want)
	}
}

func TestMaxInt64(t *testing.T) {
	var a atomic.Int64
	for _, v := range []int64{3, 7, 5} {
		maxInt64(&a, v)
	}
	if a.Load() != 7 {
		t.Errorf("maxInt64 kept %d, want 7", a.Load())
	}
}
