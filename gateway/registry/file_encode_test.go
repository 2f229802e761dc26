package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// encodeRegistry writes the bytes encoding/json writes of the file it was read from,
// for keys that need escaping, released times of any zone and precision, empty maps.
func TestEncodeMatchesEncodingJSON(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	keys := []string{"", "a", "0f1ee700-0001-4000-8000-000000000000", "host/vm:1", `q"uote`, `back\slash`,
		"<html>&", "tab\there", "nl\n", "é", "\u2028", "ctl\x01", "del\x7f"}
	zones := []*time.Location{time.UTC, time.FixedZone("x", 5*3600+30*60), time.FixedZone("y", -7*3600)}
	for i := range 200 {
		f := regFile{Version: 1, Namespaces: map[string]*fileSpace{}}
		if i > 0 { // 0: no namespace
			for n := range rnd.IntN(4) + 1 {
				sp := &fileSpace{Last: rnd.Uint32N(MaxIndex), Entries: map[string]*regEntry{}}
				for j := range rnd.IntN(20) {
					k := keys[rnd.IntN(len(keys))] + fmt.Sprint(rnd.IntN(100))
					e := &regEntry{ID: uint32(j + 1)}
					if rnd.IntN(2) == 0 {
						tm := time.Unix(rnd.Int64N(4e9), rnd.Int64N(1e9)*int64(rnd.IntN(2))).In(zones[rnd.IntN(len(zones))])
						e.Released = &tm
					}
					sp.Entries[k] = e
				}
				f.Namespaces[keys[rnd.IntN(len(keys))]+fmt.Sprint(n)] = sp
			}
		}
		data, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		spaces, err := decodeRegistry(data)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		got, err := encodeRegistry(spaces)
		want, werr := json.MarshalIndent(f, "", " ")
		if err != nil || werr != nil || !bytes.Equal(got, want) {
			t.Fatalf("case %d: encode (%v):\n%s\nencoding/json (%v):\n%s", i, err, got, werr, want)
		}
	}
	// A key that is not UTF-8 comes only from Index, never from a file.
	sp := newRegSpace()
	sp.put("\xff", 1)
	got, err := encodeRegistry(map[string]*regSpace{"vm": sp})
	want, _ := json.MarshalIndent(regFile{Version: 1, Namespaces: map[string]*fileSpace{"vm": {Entries: map[string]*regEntry{"\xff": {ID: 1}}}}}, "", " ")
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("key \\xff: encode (%v):\n%s\nencoding/json:\n%s", err, got, want)
	}
	for _, bad := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600))} {
		sp := newRegSpace()
		sp.put("k", 1)
		sp.released["k"] = bad
		if _, err := encodeRegistry(map[string]*regSpace{"vm": sp}); err == nil {
			t.Errorf("%v, which encoding/json refuses, was encoded", bad)
		}
	}
}

// BenchmarkEncodeRegistry: one file write's encoding at 50,000 VMs and their disks.
func BenchmarkEncodeRegistry(b *testing.B) {
	f := regFile{Version: 1, Namespaces: map[string]*fileSpace{"vm": {Entries: map[string]*regEntry{}}, "image": {Entries: map[string]*regEntry{}}}}
	now := time.Now()
	for i := range 50000 {
		f.Namespaces["vm"].Entries[fmt.Sprintf("f1ee7000-%04x-4000-8000-%012x", i/50, i%50)] = &regEntry{ID: uint32(i + 1)}
		e := &regEntry{ID: uint32(i + 1)}
		if i%10 == 0 {
			e.Released = &now
		}
		f.Namespaces["image"].Entries[fmt.Sprintf("h%03d/fleet/h%03d/vm%03d.qcow2", i/50, i/50, i%50)] = e
	}
	data, err := json.Marshal(f)
	if err != nil {
		b.Fatal(err)
	}
	spaces, err := decodeRegistry(data)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		enc  func() ([]byte, error)
	}{{"encoding/json", func() ([]byte, error) { return json.MarshalIndent(f, "", " ") }},
		{"encode", func() ([]byte, error) { return encodeRegistry(spaces) }}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.enc(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
