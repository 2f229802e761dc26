package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseBody(t *testing.T) {
	body := `# HELP vmState x
# TYPE vmState gauge
vmState{vmHost="h",vmId="1",vmName="a",vmState="running",vmUUIDText="u1"} 1
vmState{vmHost="h",vmId="1",vmName="a",vmState="paused",vmUUIDText="u1"} 0
vmState{vmHost="h",vmId="2",vmName="b",vmState="running",vmUUIDText="u2"} 0
vmStateX{vmUUIDText="u3"} 1
vmMemoryMb{vmUUIDText="u4"} 64

snmp_scrape_pdus_returned 4321
`
	st, err := parseBody(strings.NewReader(body), "vmState", "vmUUIDText")
	if err != nil {
		t.Fatal(err)
	}
	if want := (bodyStats{samples: 6, vms: 2, varbinds: 4321}); st != want {
		t.Errorf("parseBody = %+v, want %+v", st, want)
	}
}

func TestLabelValue(t *testing.T) {
	for _, tt := range []struct {
		labels, label, want string
		ok                  bool
	}{
		{`uuid="x",domain="d"} 1`, "uuid", "x", true},
		{`domain="d",uuid="y"} 1`, "uuid", "y", true},
		{`vmuuid="z",uuid="y"} 1`, "uuid", "y", true}, // a label ending in the name is not it
		{`vmuuid="z"} 1`, "uuid", "", false},
		{`uuid="open`, "uuid", "", false},
	} {
		got, ok := labelValue(tt.labels, tt.label)
		if got != tt.want || ok != tt.ok {
			t.Errorf("labelValue(%q, %q) = %q, %v; want %q, %v", tt.labels, tt.label, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSummarise(t *testing.T) {
	ss := []scrape{
		{dur: 3 * time.Second, body: bodyStats{samples: 10, vms: 2, varbinds: 12}, complete: true},
		{dur: 1 * time.Second, body: bodyStats{samples: 10, vms: 2, varbinds: 12}, complete: true},
		{dur: 2 * time.Second, body: bodyStats{samples: 5, vms: 1, varbinds: 6}},
		{dur: 4 * time.Second, err: "HTTP 500"},
	}
	r := summarise(ss)
	if r.n != 4 || r.failed != 1 || r.incomplete != 1 || r.samples != 25 || r.varbinds != 30 || r.vms != 5 ||
		r.p50 != 3*time.Second || r.max != 4*time.Second || r.firstErr != "HTTP 500" {
		t.Errorf("summarise = %+v", r)
	}
	if r.ok(time.Minute) {
		t.Error("a round with a failed target is ok")
	}
	good := summarise(ss[:2])
	if !good.ok(3*time.Second) || good.ok(2*time.Second) {
		t.Errorf("ok(limit) wrong for %+v", good)
	}
}
