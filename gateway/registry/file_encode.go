package registry

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// encodeRegistry writes the file of spaces (version registryVersion): what
// json.MarshalIndent(f, "", " ") writes of their regFile f, without reflection: the
// file is written whole, once a second while VMs come and go, under the registry's
// lock; at 50,000 VMs encoding/json spent seconds of a first view on it.
func encodeRegistry(spaces map[string]*regSpace) ([]byte, error) {
	n := 0
	for _, sp := range spaces {
		n += sp.ids.len()
	}
	b := make([]byte, 0, 64+64*n)
	b = append(b, "{\n \"version\": "...)
	b = strconv.AppendInt(b, registryVersion, 10)
	b = append(b, ",\n \"namespaces\": "...)
	if len(spaces) == 0 {
		return append(b, "{}\n}"...), nil
	}
	b = append(b, "{\n"...)
	for i, ns := range sortedKeys(spaces) {
		if i > 0 {
			b = append(b, ",\n"...)
		}
		b = append(b, "  "...)
		b = appendJSONString(b, ns)
		b = append(b, ": "...)
		var err error
		if b, err = spaces[ns].appendJSON(b); err != nil {
			return nil, err
		}
	}
	return append(b, "\n }\n}"...), nil
}

func (sp *regSpace) appendJSON(b []byte) ([]byte, error) {
	b = append(b, "{\n   \"last\": "...)
	b = strconv.AppendUint(b, uint64(sp.Last), 10)
	b = append(b, ",\n   \"entries\": "...)
	if sp.ids.len() == 0 {
		return append(b, "{}\n  }"...), nil
	}
	type kv struct {
		key string
		id  uint32
	}
	list := make([]kv, 0, sp.ids.len())
	for k, id := range sp.ids.all() {
		list = append(list, kv{k, id})
	}
	slices.SortFunc(list, func(a, b kv) int { return strings.Compare(a.key, b.key) })
	b = append(b, "{\n"...)
	for i, x := range list {
		if i > 0 {
			b = append(b, ",\n"...)
		}
		b = append(b, "    "...)
		b = appendJSONString(b, x.key)
		b = append(b, ": {\n     \"id\": "...)
		b = strconv.AppendUint(b, uint64(x.id), 10)
		if t, ok := sp.released[x.key]; ok {
			b = append(b, ",\n     \"released\": "...)
			var err error
			if b, err = appendJSONTime(b, t); err != nil {
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
