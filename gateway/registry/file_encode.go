package registry

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// encode writes what json.MarshalIndent(f, "", " ") writes, without reflection: the
// file is written whole, once a second while VMs come and go, under the registry's
// lock; at 50,000 VMs encoding/json spent seconds of a first view on it.
func (f regFile) encode() ([]byte, error) {
	b := make([]byte, 0, 64+64*f.entries())
	b = append(b, "{\n \"version\": "...)
	b = strconv.AppendInt(b, int64(f.Version), 10)
	b = append(b, ",\n \"namespaces\": "...)
	if f.Namespaces == nil {
		return append(b, "null\n}"...), nil
	}
	if len(f.Namespaces) == 0 {
		return append(b, "{}\n}"...), nil
	}
	b = append(b, "{\n"...)
	for i, ns := range sortedKeys(f.Namespaces) {
		if i > 0 {
			b = append(b, ",\n"...)
		}
		b = append(b, "  "...)
		b = appendJSONString(b, ns)
		b = append(b, ": "...)
		var err error
		if b, err = f.Namespaces[ns].appendJSON(b); err != nil {
			return nil, err
		}
	}
	return append(b, "\n }\n}"...), nil
}

func (f regFile) entries() int {
	n := 0
	for _, sp := range f.Namespaces {
		if sp != nil {
			n += len(sp.Entries)
		}
	}
	return n
}

func (sp *regSpace) appendJSON(b []byte) ([]byte, error) {
	if sp == nil {
		return append(b, "null"...), nil
	}
	b = append(b, "{\n   \"last\": "...)
	b = strconv.AppendUint(b, uint64(sp.Last), 10)
	b = append(b, ",\n   \"entries\": "...)
	switch {
	case sp.Entries == nil:
		return append(b, "null\n  }"...), nil
	case len(sp.Entries) == 0:
		return append(b, "{}\n  }"...), nil
	}
	type kv struct {
		key string
		e   *regEntry
	}
	list := make([]kv, 0, len(sp.Entries))
	for k, e := range sp.Entries {
		list = append(list, kv{k, e})
	}
	slices.SortFunc(list, func(a, b kv) int { return strings.Compare(a.key, b.key) })
	b = append(b, "{\n"...)
	for i, x := range list {
		if i > 0 {
			b = append(b, ",\n"...)
		}
		b = append(b, "    "...)
		b = appendJSONString(b, x.key)
		b = append(b, ": "...)
		e := x.e
		if e == nil {
			b = append(b, "null"...)
			continue
		}
		b = append(b, "{\n     \"id\": "...)
		b = strconv.AppendUint(b, uint64(e.ID), 10)
		if e.Released != nil {
			b = append(b, ",\n     \"released\": "...)
			var err error
			if b, err = appendJSONTime(b, *e.Released); err != nil {
				return nil, err
			}
		}
		b = append(b, "\n    }"...)
	}
	return append(b, "\n   }\n  }"...), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendJSONString appends s quoted as encoding/json quotes it; a string with a byte
// encoding/json would escape (control, quote, backslash, <, >, &, non-ASCII) is left
// to encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONTime appends t as time.Time's MarshalJSON does (and fails as it fails).
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	_, off := t.Zone()
	if y := t.Year(); y < 0 || y > 9999 || off <= -24*3600 || off >= 24*3600 {
		q, err := t.MarshalJSON()
		return append(b, q...), err
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}
