package registry

import "iter"

// keyMap is a namespace's number per key. Keys that are UUIDs in canonical form (the
// vm namespace's, a VM's UUID) are kept as their 16 bytes, the map slot itself, not as
// 36 bytes of text in an allocation of 48: the text is made again when asked for.
type keyMap struct {
	strs  map[string]uint32
	uuids map[[16]byte]uint32
}

func newKeyMap() keyMap {
	return keyMap{strs: map[string]uint32{}, uuids: map[[16]byte]uint32{}}
}

func (m keyMap) get(key string) (uint32, bool) {
	if u, ok := parseUUID(key); ok {
		id, ok := m.uuids[u]
		return id, ok
	}
	id, ok := m.strs[key]
	return id, ok
}

func (m keyMap) set(key string, id uint32) {
	if u, ok := parseUUID(key); ok {
		m.uuids[u] = id
	} else {
		m.strs[key] = id
	}
}

func (m keyMap) delete(key string) {
	if u, ok := parseUUID(key); ok {
		delete(m.uuids, u)
	} else {
		delete(m.strs, key)
	}
}

func (m keyMap) len() int { return len(m.strs) + len(m.uuids) }

// all yields every key with its number, in no order; a UUID's text is made anew.
func (m keyMap) all() iter.Seq2[string, uint32] {
	return func(yield func(string, uint32) bool) {
		for k, id := range m.strs {
			if !yield(k, id) {
				return
			}
		}
		for u, id := range m.uuids {
			if !yield(formatUUID(u), id) {
				return
			}
		}
	}
}

// parseUUID returns the bytes of key when key is a UUID in canonical form (36
// characters, lowercase hex, dashes at 8, 13, 18 and 23): the form formatUUID gives
// back exactly. Any other key (upper case, no dashes) stays text.
func parseUUID(key string) (u [16]byte, ok bool) {
	if len(key) != 36 || key[8] != '-' || key[13] != '-' || key[18] != '-' || key[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; i += 2 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
		}
		hi, ok1 := lowerHex(key[i])
		lo, ok2 := lowerHex(key[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
	}
	return u, true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func formatUUID(u [16]byte) string {
	const digits = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i := 0; i < 36; i += 2 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			b[i] = '-'
			i++
		}
		b[i], b[i+1] = digits[u[j]>>4], digits[u[j]&15]
		j++
	}
	return string(b[:])
}
