package registry

import "fmt"

// Free reports whether id (1..MaxIndex) is held by no key of namespace, in use or in
// its grace period: a manager may create a row with it (Bind).
func (r *File) Free(namespace string, id uint32) bool {
	if id == 0 || id > MaxIndex {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.owner(namespace, id) == ""
}

// NextFree returns the number Index would give the next new key of namespace; 0 when
// every number is held.
func (r *File) NextFree(namespace string) uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.space(namespace).next()
}

// Bind gives key the number id, chosen by a manager creating a row (vmId of a new VM,
// storageIndex of a new disk), before the object exists, so that the view finds the
// number when the object appears. Binding a key to the number it already has is a
// no-op; a number held by another key is ErrTaken. The namespace counter stays:
// Index skips numbers held, and a Bind undone (Unbind) leaves no trace.
func (r *File) Bind(namespace, key string, id uint32) error {
	if id == 0 || id > MaxIndex {
		return fmt.Errorf("bind %s %q: index %d out of range", namespace, key, id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if other := r.owner(namespace, id); other != "" && other != key {
		return fmt.Errorf("bind %s %q to %d: %w (by %q)", namespace, key, id, ErrTaken, other)
	}
	r.space(namespace).put(key, id)
	r.markDirty()
	return nil
}

// Unbind removes key at once (no grace period): undoes a Bind whose object was never
// created.
func (r *File) Unbind(namespace, key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sp := r.spaces[namespace]; sp != nil {
		if _, ok := sp.ids.get(key); ok {
			sp.drop(key)
			r.markDirty()
		}
	}
}

// owner returns the key holding id in namespace ("" for none); expired keys do not
// count. Called with r.mu held.
func (r *File) owner(namespace string, id uint32) string {
	sp := r.spaces[namespace]
	if sp == nil {
		return ""
	}
	key, ok := sp.holder(id)
	if !ok {
		return ""
	}
	if sp.expired(key, r.now(), r.grace) {
		return ""
	}
	return key
}
