package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/vmgate/vmgate/gateway/internal/atomicfile"
)

const registryVersion = 1

// File is the Store of one gateway: the registry lives in memory and in a file of the
// state directory. Index(namespace, key) returns the same number for the same key for
// as long as the key is in use, across restarts. Numbers come from a monotonic counter
// per namespace that skips numbers managers bound (Bind), so a number the counter gave
// is not reused after its key is released (until the counter wraps at MaxIndex, then
// the lowest free number is taken); a number a manager chose above the counter can be
// given again once its key's grace period is over, since binding does not move the
// counter. A released key keeps its number for a grace period, so a VM that reappears
// (a host back from an outage) gets its old vmId back. Changes are written to disk
// atomically, at most once per flush delay, and on Close. Safe for concurrent use.
type File struct {
	path       string
	logger     *slog.Logger
	grace      time.Duration
	flushDelay time.Duration
	now        func() time.Time

	saveMu sync.Mutex // serialises file writes

	mu     sync.Mutex
	spaces map[string]*regSpace
	dirty  bool
	timer  *time.Timer
	closed bool
}

// regSpace is one namespace in memory: a number per key, and apart the release time
// of the few keys released (an entry by pointer with its *time.Time cost a 16-byte
// allocation and a pointer per key, released or not).
type regSpace struct {
	Last     uint32
	ids      keyMap               // key -> number, released keys included
	released map[string]time.Time // released keys: when their grace period began
	held     idSet                // the numbers of ids, expired ones included
}

func newRegSpace() *regSpace {
	return &regSpace{ids: newKeyMap(), released: map[string]time.Time{}, held: idSet{}}
}

// put gives key the number id, in use; a key that still holds id is expired (see
// owner) and goes, so that no two keys share a number.
func (sp *regSpace) put(key string, id uint32) {
	sp.drop(key)
	if other, ok := sp.holder(id); ok {
		sp.drop(other)
	}
	sp.ids.set(key, id)
	sp.held.add(id)
}

func (sp *regSpace) drop(key string) {
	if id, ok := sp.ids.get(key); ok {
		sp.held.remove(id)
		sp.ids.delete(key)
		delete(sp.released, key)
	}
}

// expired reports whether key was released longer than grace before now.
func (sp *regSpace) expired(key string, now time.Time, grace time.Duration) bool {
	t, ok := sp.released[key]
	return ok && now.Sub(t) > grace
}

// holder returns the key of Entries holding id. A scan of the namespace, but only
// when id is held: a manager's Bind or Free of a number in use, never Index.
func (sp *regSpace) holder(id uint32) (string, bool) {
	if !sp.held.has(id) {
		return "", false
	}
	for key, n := range sp.ids.all() {
		if n == id {
			return key, true
		}
	}
	return "", false
}

// idSet is a set of numbers as a sparse bitmap: numbers come from a counter, so a
// namespace of n keys takes about n/64 words, where a map by number took a slot of
// about 40 bytes per key.
type idSet map[uint32]uint64

func (s idSet) has(id uint32) bool { return s[id/64]&(1<<(id%64)) != 0 }
func (s idSet) add(id uint32)      { s[id/64] |= 1 << (id % 64) }

func (s idSet) remove(id uint32) {
	if w := s[id/64] &^ (1 << (id % 64)); w != 0 {
		s[id/64] = w
	} else {
		delete(s, id/64)
	}
}

// next returns the number a new key gets: the first above the counter no entry holds,
// else the lowest such number below it; 0 when every number is held. Numbers managers
// bind do not move the counter, so a failed or undone creation with vmId 2^31-1 does
// not use the namespace up.
func (sp *regSpace) next() uint32 {
	for id := sp.Last + 1; id <= MaxIndex; id++ {
		if !sp.held.has(id) {
			return id
		}
	}
	for id := uint32(1); id <= sp.Last; id++ {
		if !sp.held.has(id) {
			return id
		}
	}
	return 0
}

// regFile, fileSpace and regEntry are the file's form (encoding/json's), read by
// decodeRegistry; encodeRegistry writes it from the regSpaces.
type regEntry struct {
	ID       uint32     `json:"id"`
	Released *time.Time `json:"released,omitempty"`
}

type fileSpace struct {
	Last    uint32               `json:"last"`
	Entries map[string]*regEntry `json:"entries"`
}

type regFile struct {
	Version    int                   `json:"version"`
	Namespaces map[string]*fileSpace `json:"namespaces"`
}

// Option configures OpenFile and OpenEtcd.
type Option func(*settings)

type settings struct {
	grace      time.Duration
	flushDelay time.Duration
	purgeEvery time.Duration
	now        func() time.Time
}

func newSettings(opts []Option) settings {
	s := settings{grace: 7 * 24 * time.Hour, flushDelay: time.Second, purgeEvery: time.Minute, now: time.Now}
	for _, o := range opts {
		o(&s)
	}
	return s
}

// WithGrace sets how long a released key keeps its number (default 7 days).
func WithGrace(d time.Duration) Option { return func(s *settings) { s.grace = d } }

// WithFlushDelay sets the minimum time between two file writes (default 1s; File only).
func WithFlushDelay(d time.Duration) Option {
	return func(s *settings) { s.flushDelay = d }
}

// WithPurgeEvery sets how often keys whose grace period is over are removed from etcd
// (default 1m; Etcd only: File purges when it writes).
func WithPurgeEvery(d time.Duration) Option {
	return func(s *settings) { s.purgeEvery = d }
}

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option {
	return func(s *settings) { s.now = now }
}

// OpenFile loads the registry at path (e.g. <state_dir>/indexes.json). A missing
// file starts an empty registry, written at once so that an unwritable directory is a
// start-up error; an unreadable file is an error, a corrupted one an error wrapping
// ErrCorrupt.
func OpenFile(path string, logger *slog.Logger, opts ...Option) (*File, error) {
	s := newSettings(opts)
	r := &File{
		path:       path,
		logger:     logger,
		grace:      s.grace,
		flushDelay: s.flushDelay,
		now:        s.now,
		spaces:     map[string]*regSpace{},
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.dirty = true
		if err := r.Flush(); err != nil {
			return nil, err
		}
		return r, nil
	case err != nil:
		return nil, fmt.Errorf("index registry: %w", err)
	}
	spaces, err := decodeRegistry(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	r.spaces = spaces
	return r, nil
}

// decodeRegistry parses and checks a registry file: ids in range and unique per
// namespace (bound ones may lie above the namespace counter).
func decodeRegistry(data []byte) (map[string]*regSpace, error) {
	var f regFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	if f.Version != registryVersion {
		return nil, fmt.Errorf("unsupported version %d", f.Version)
	}
	if f.Namespaces == nil {
		return nil, errors.New("no namespaces")
	}
	spaces := make(map[string]*regSpace, len(f.Namespaces))
	for ns, fs := range f.Namespaces {
		if fs == nil {
			return nil, fmt.Errorf("namespace %q: null", ns)
		}
		if fs.Last > MaxIndex {
			return nil, fmt.Errorf("namespace %q: counter %d out of range", ns, fs.Last)
		}
		sp := newRegSpace()
		sp.Last = fs.Last
		for key, e := range fs.Entries {
			if e == nil || e.ID == 0 || e.ID > MaxIndex {
				return nil, fmt.Errorf("namespace %q: key %q: bad id", ns, key)
			}
			if other, ok := sp.holder(e.ID); ok {
				return nil, fmt.Errorf("namespace %q: id %d used by %q and %q", ns, e.ID, other, key)
			}
			sp.ids.set(key, e.ID)
			sp.held.add(e.ID)
			if e.Released != nil {
				sp.released[key] = *e.Released
			}
		}
		spaces[ns] = sp
	}
	return spaces, nil
}

// Index returns the number of key in namespace, allocating one if needed, and marks the
// key in use (reviving it if it was released). It returns 0 only when every number of
// the namespace is taken.
func (r *File) Index(namespace, key string) uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	sp := r.space(namespace)
	if id, ok := sp.ids.get(key); ok {
		t, released := sp.released[key]
		if !released {
			return id
		}
		if r.now().Sub(t) <= r.grace {
			delete(sp.released, key)
			r.markDirty()
			return id
		}
		sp.drop(key) // expired: a fresh number, like any new key
	}
	id := sp.next()
	if id == 0 {
		return 0
	}
	sp.Last = max(sp.Last, id)
	sp.put(key, id)
	r.markDirty()
	return id
}

// space returns namespace's entries, made empty on first use. Called with r.mu held.
func (r *File) space(namespace string) *regSpace {
	sp := r.spaces[namespace]
	if sp == nil {
		sp = newRegSpace()
		r.spaces[namespace] = sp
	}
	return sp
}

// Lookup returns the number of key without allocating; false if the key has none or
// its grace period is over.
func (r *File) Lookup(namespace, key string) (uint32, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sp := r.spaces[namespace]
	if sp == nil {
		return 0, false
	}
	id, ok := sp.ids.get(key)
	if !ok || sp.expired(key, r.now(), r.grace) {
		return 0, false
	}
	return id, true
}

// Released reports whether key holds a number (ok) and has been released, its number
// kept for the grace period.
func (r *File) Released(namespace, key string) (released, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sp := r.spaces[namespace]
	if sp == nil {
		return false, false
	}
	if _, ok := sp.ids.get(key); !ok {
		return false, false
	}
	_, released = sp.released[key]
	return released, true
}

// Release marks key as no longer in use; it keeps its number for the grace period.
func (r *File) Release(namespace, key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sp := r.spaces[namespace]
	if sp == nil {
		return
	}
	if _, ok := sp.ids.get(key); !ok {
		return
	}
	if _, ok := sp.released[key]; !ok {
		sp.released[key] = r.now()
		r.markDirty()
	}
}

// markDirty schedules a flush unless one is pending. Called with r.mu held.
func (r *File) markDirty() {
	r.dirty = true
	if r.timer == nil && !r.closed {
		r.timer = time.AfterFunc(r.flushDelay, r.backgroundFlush)
	}
}

func (r *File) backgroundFlush() {
	r.mu.Lock()
	r.timer = nil
	r.mu.Unlock()
	if err := r.Flush(); err != nil {
		// Still dirty: the next change or Close retries.
		r.logger.Error("index registry not saved", "path", r.path, "err", err)
	}
}

// Flush writes pending changes now (temp file, fsync, rename, fsync of the directory).
func (r *File) Flush() error {
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	r.mu.Lock()
	if !r.dirty {
		r.mu.Unlock()
		return nil
	}
	r.purge()
	data, err := encodeRegistry(r.spaces)
	r.dirty = false
	r.mu.Unlock()
	if err == nil {
		err = atomicfile.Write(r.path, data)
	}
	if err != nil {
		r.mu.Lock()
		r.dirty = true
		r.mu.Unlock()
		return fmt.Errorf("index registry %s: %w", r.path, err)
	}
	return nil
}

// purge drops released keys whose grace period is over. Called with r.mu held.
func (r *File) purge() {
	now := r.now()
	for _, sp := range r.spaces {
		for key := range sp.released {
			if sp.expired(key, now, r.grace) {
				sp.drop(key)
			}
		}
	}
}

// Close stops background flushing and writes pending changes, including any a failed
// background write left behind.
func (r *File) Close() error {
	r.mu.Lock()
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.mu.Unlock()
	return r.Flush()
}

// Export returns the registry as the file holds it, expired keys left out.
func (r *File) Export() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.purge()
	return encodeRegistry(r.spaces)
}

// Import replaces an empty registry with data (an Export) and writes it at once.
func (r *File) Import(data []byte) error {
	spaces, err := decodeRegistry(data)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	r.mu.Lock()
	if !empty(r.spaces) {
		r.mu.Unlock()
		return fmt.Errorf("import into %s: %w", r.path, ErrNotEmpty)
	}
	r.spaces = spaces
	r.dirty = true
	r.mu.Unlock()
	return r.Flush()
}
