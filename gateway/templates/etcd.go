package templates

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vmgate/vmgate/gateway/internal/etcdwatch"
	"github.com/vmgate/vmgate/gateway/registry"
)

// ErrUnavailable is returned by Etcd's writes when etcd cannot be reached or has no
// quorum: the templates every replica serves cannot change.
var ErrUnavailable = errors.New("template store unavailable")

// EtcdConfig says where the replicas' templates live and what this replica brings.
type EtcdConfig struct {
	Client *clientv3.Client // shared with the index registry; Close leaves it open
	Prefix string           // the registry's prefix: the templates live under PREFIX/tpl/
	// Dir is templates.dir: the files templateXmlFile names, and the templates imported
	// (with the choice in StateDir's templates.json) the first time this replica opens
	// the store.
	Dir, StateDir string
	Replica       string // this gateway, recorded with what it writes
	// DialTimeout bounds reading (and importing) the store at open; Timeout bounds
	// every operation afterwards.
	DialTimeout, Timeout time.Duration
}

// Etcd is the Store of replicas sharing one etcd cluster. Under PREFIX/tpl/:
//
//	row/FILE           {"xml":...,"image":N,"by":REPLICA}   a template; its index is the
//	                                                        registry's (NSTemplate, FILE)
//	current            {"vm":N,"storage":N,"by":REPLICA}    virtualMachineTemplate, storageTemplate
//	imported/REPLICA   time                                 REPLICA's templates.dir was imported
//
// Each replica keeps a mirror, read at open and kept current by a watch, so reads cost
// no round trip and go on while etcd is away. Writes are etcd transactions that
// require what they were decided on (a new row absent, the chosen template present,
// a destroyed row not current), and return once the mirror has them, so the SET's
// answer and the next GET agree. While etcd is unreachable or without quorum, writes
// fail with ErrUnavailable and Available says so; a probe notices when it is back.
type Etcd struct {
	cli     *clientv3.Client
	root    string // PREFIX + "tpl/"
	dir     string
	replica string
	timeout time.Duration
	reg     registry.Store
	logger  *slog.Logger

	mu       sync.Mutex
	mirror   *etcdwatch.Mirror
	rows     map[string]etcdRow // by file name
	choice   choice
	choiceAt int64 // ModRevision of current; 0 when absent
	down     bool
}

type etcdRow struct {
	tpl Template // Index left 0: the registry's, looked up when read
	rev int64    // ModRevision of the row
}

// rowValue is the value of a row key.
type rowValue struct {
	XML   string `json:"xml"`
	Image uint32 `json:"image,omitempty"`
	By    string `json:"by,omitempty"`
}

// choice is the value of the current key.
type choice struct {
	VM      uint32 `json:"vm"`
	Storage uint32 `json:"storage"`
	By      string `json:"by,omitempty"`
}

var _ Store = (*Etcd)(nil)

// OpenEtcd reads the templates into the mirror (and, the first time this replica opens
// the store, imports cfg.Dir's) before it returns, so that the replica serves the same
// rows as the others from its first answer. reg must be the registry in the same etcd.
func OpenEtcd(cfg EtcdConfig, reg registry.Store, logger *slog.Logger) (*Etcd, error) {
	e := &Etcd{
		cli: cfg.Client, root: cfg.Prefix + "tpl/", dir: cfg.Dir, replica: cfg.Replica,
		timeout: cfg.Timeout, reg: reg, logger: logger.With("component", "templates"),
		rows: map[string]etcdRow{},
	}
	e.mirror = etcdwatch.New(etcdwatch.Config{
		Client: cfg.Client, Prefix: e.root, Timeout: e.timeout, Logger: e.logger, Lock: &e.mu,
		Reset: func() { e.rows, e.choice, e.choiceAt = map[string]etcdRow{}, choice{}, 0 },
		Put:   e.applyPut, Delete: e.applyDelete,
		// A watch that ends for want of a leader marks etcd down, as a failed reload does.
		ReloadFailed: e.markDown, WatchFailed: e.markDown,
	})
	ctx, cancel := context.WithTimeout(context.Background(), cfg.DialTimeout)
	defer cancel()
	if err := e.importDir(ctx, cfg.StateDir); err != nil {
		return nil, fmt.Errorf("templates: etcd: import %s: %w", cfg.Dir, err)
	}
	if err := e.mirror.Load(ctx); err != nil {
		return nil, fmt.Errorf("templates: etcd: read %s: %w", e.root, err)
	}
	e.mirror.Start(e.probe)
	return e, nil
}

func (e *Etcd) rowKey(file string) string { return e.root + "row/" + file }
func (e *Etcd) currentKey() string        { return e.root + "current" }

// Mirror.

// applyPut applies one key-value of etcd to the mirror. Called with e.mu held. A row
// that is not a domain definition is logged and skipped, as a bad file is.
func (e *Etcd) applyPut(kv *mvccpb.KeyValue) {
	k := string(kv.Key)
	if k == e.currentKey() {
		var c choice
		if err := json.Unmarshal(kv.Value, &c); err != nil {
			e.logger.Warn("templates: bad current templates in etcd", "key", k, "err", err)
			return
		}
		e.choice, e.choiceAt = c, kv.ModRevision
		return
	}
	file, ok := strings.CutPrefix(k, e.root+"row/")
	if !ok {
		return
	}
	delete(e.rows, file)
	var v rowValue
	err := json.Unmarshal(kv.Value, &v)
	var tpl Template
	if err == nil {
		tpl, err = parseTemplate(file, []byte(v.XML))
	}
	if err != nil {
		e.logger.Warn("template skipped", "key", k, "err", err)
		return
	}
	tpl.Image = v.Image
	e.rows[file] = etcdRow{tpl: tpl, rev: kv.ModRevision}
}

func (e *Etcd) applyDelete(kv *mvccpb.KeyValue) {
	k := string(kv.Key)
	if k == e.currentKey() {
		e.choice, e.choiceAt = choice{}, 0
	} else if file, ok := strings.CutPrefix(k, e.root+"row/"); ok {
		delete(e.rows, file)
	}
}

// Health.

// Available reports ErrUnavailable while etcd is known to be unreachable or without
// quorum, so that a SET is refused before anything is applied.
func (e *Etcd) Available() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.down {
		return fmt.Errorf("%w: etcd unreachable or without quorum", ErrUnavailable)
	}
	return nil
}

func (e *Etcd) markDown(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.down {
		return
	}
	e.down = true
	e.logger.Error("templates: etcd unreachable or without quorum: templates are served as last seen, changes to them fail until it is back",
		"err", err)
}

// probe reads with quorum every second while etcd is down, and says when it is back.
func (e *Etcd) probe(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		e.mu.Lock()
		down := e.down
		e.mu.Unlock()
		if !down {
			continue
		}
		if !etcdwatch.Quorum(ctx, e.cli, e.currentKey(), e.timeout) {
			continue
		}
		e.mu.Lock()
		e.down = false
		e.mu.Unlock()
		e.logger.Info("templates: etcd reachable again")
	}
}

// Reads: from the mirror.

// Dir is templates.dir: the directory templateXmlFile names files of ("" when templates
// are disabled on this replica). The templates themselves are in etcd.
func (e *Etcd) Dir() string { return e.dir }

// List returns every template, by Index. A row whose index the registry's mirror does
// not have yet (written a moment ago by another replica) shows once it has.
func (e *Etcd) List() []Template {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.list()
}

// list is List with e.mu held.
func (e *Etcd) list() []Template {
	out := make([]Template, 0, len(e.rows))
	for file, r := range e.rows {
		// Lookup, not Index: reading must not revive the key of a row being destroyed.
		if idx, ok := e.reg.Lookup(registry.NSTemplate, file); ok {
			t := r.tpl
			t.Index = idx
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Template) int { return cmp.Compare(a.Index, b.Index) })
	return out
}

// find returns the template of index idx. Called with e.mu held.
func (e *Etcd) find(idx uint32) (Template, etcdRow, bool) {
	if idx == 0 {
		return Template{}, etcdRow{}, false
	}
	for _, t := range e.list() {
		if t.Index == idx {
			return t, e.rows[t.File], true
		}
	}
	return Template{}, etcdRow{}, false
}

// Get returns the template with index idx.
func (e *Etcd) Get(idx uint32) (Template, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, _, ok := e.find(idx)
	return t, ok
}

// Current returns virtualMachineTemplate and storageTemplate; a current template that
// has no row reads 0.
func (e *Etcd) Current() (vm, storage uint32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	vm = e.choice.VM
	if _, _, ok := e.find(vm); !ok {
		vm = 0
	}
	return vm, e.choice.Storage
}

// FileExists reports whether a template of that file name is in etcd: in etcd mode a
// template's file is its row's key, and templates.dir is only read.
func (e *Etcd) FileExists(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.rows[name]
	return ok
}

// Writes: one transaction each.

// commit runs one transaction and, when it succeeded, waits until the mirror has it.
// An etcd error marks etcd down and becomes ErrUnavailable.
func (e *Etcd) commit(ctx context.Context, what string, cmps []clientv3.Cmp, ops ...clientv3.Op) (bool, error) {
	resp, err := e.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		e.markDown(err)
		return false, fmt.Errorf("%s: %w: etcd: %w", what, ErrUnavailable, err)
	}
	if resp.Succeeded {
		e.mirror.Wait(ctx, resp.Header.Revision)
	}
	return resp.Succeeded, nil
}

// Put writes a template row. A new row gets index tpl.Index (Bind) when not 0; it must
// not replace an existing row (fs.ErrExist). When the row cannot be written, a number
// bound for it is unbound again: nothing is left half-made.
func (e *Etcd) Put(tpl Template) error {
	if tpl.File == "" || filepath.Base(tpl.File) != tpl.File || !strings.HasSuffix(tpl.File, ".xml") {
		return fmt.Errorf("template file name %q: want a plain name ending in .xml", tpl.File)
	}
	if _, err := parseTemplate(tpl.File, []byte(tpl.XML)); err != nil {
		return fmt.Errorf("template %s: %w", tpl.File, err)
	}
	if err := e.Available(); err != nil {
		return fmt.Errorf("template %s: %w", tpl.File, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	key := e.rowKey(tpl.File)
	val, _ := json.Marshal(rowValue{XML: tpl.XML, Image: tpl.Image, By: e.replica})
	var cmps []clientv3.Cmp
	if tpl.Index != 0 {
		if e.FileExists(tpl.File) {
			return fmt.Errorf("template %s: %w", tpl.File, fs.ErrExist)
		}
		if err := e.reg.Bind(registry.NSTemplate, tpl.File, tpl.Index); err != nil {
			if errors.Is(err, registry.ErrUnavailable) {
				e.markDown(err) // the same etcd: the TEST phase refuses the next SET
			}
			return fmt.Errorf("template %s: %w", tpl.File, err)
		}
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(key), "=", 0))
	} else if e.reg.Index(registry.NSTemplate, tpl.File) == 0 {
		return fmt.Errorf("template %s: %w: no index", tpl.File, ErrUnavailable)
	}
	ok, err := e.commit(ctx, "template "+tpl.File, cmps, clientv3.OpPut(key, string(val)))
	if tpl.Index != 0 && (err != nil || !ok) {
		e.reg.Unbind(registry.NSTemplate, tpl.File)
	}
	if err == nil && !ok {
		err = fmt.Errorf("template %s: %w (created meanwhile by another replica)", tpl.File, fs.ErrExist)
	}
	return err
}

// Delete removes the template of idx, unless it became the current one meanwhile.
func (e *Etcd) Delete(idx uint32) error {
	if err := e.Available(); err != nil {
		return fmt.Errorf("template %d: %w", idx, err)
	}
	e.mu.Lock()
	t, r, ok := e.find(idx)
	cur, curRev := e.choice.VM, e.choiceAt
	e.mu.Unlock()
	switch {
	case !ok:
		return fmt.Errorf("template %d: %w", idx, fs.ErrNotExist)
	case cur == idx:
		return fmt.Errorf("template %d is the current template", idx)
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	key := e.rowKey(t.File)
	done, err := e.commit(ctx, fmt.Sprintf("template %d", idx), []clientv3.Cmp{
		clientv3.Compare(clientv3.ModRevision(key), "=", r.rev),
		clientv3.Compare(clientv3.ModRevision(e.currentKey()), "=", curRev),
	}, clientv3.OpDelete(key))
	if err != nil {
		return err
	}
	if !done {
		return fmt.Errorf("template %d: changed or chosen meanwhile by another replica", idx)
	}
	e.reg.Release(registry.NSTemplate, t.File)
	return nil
}

// SetCurrent chooses the current templates; vm must be a template's index or 0, and
// its row must still be there when the choice is written.
func (e *Etcd) SetCurrent(vm, storage uint32) error {
	if err := e.Available(); err != nil {
		return fmt.Errorf("current templates: %w", err)
	}
	var cmps []clientv3.Cmp
	if vm != 0 {
		e.mu.Lock()
		t, r, ok := e.find(vm)
		e.mu.Unlock()
		if !ok {
			return fmt.Errorf("template %d: %w", vm, fs.ErrNotExist)
		}
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(e.rowKey(t.File)), "=", r.rev))
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	val, _ := json.Marshal(choice{VM: vm, Storage: storage, By: e.replica})
	done, err := e.commit(ctx, "current templates", cmps, clientv3.OpPut(e.currentKey(), string(val)))
	if err == nil && !done {
		err = fmt.Errorf("template %d: destroyed meanwhile by another replica", vm)
	}
	return err
}

// Close stops the watch and the probe; the client stays open (the registry's).
func (e *Etcd) Close() error {
	e.mirror.Stop()
	return nil
}

// Migration.

// importDir writes the templates of templates.dir, with the choice of the state file,
// into etcd the first time this replica opens the store: each row only if absent (a
// replica with the same files adds nothing), indexes from the registry (imported
// first with `vmgate registry import`, they keep their numbers). Then it marks this
// replica's import done, so that a template destroyed through the MIB does not come
// back from the directory at the next start.
func (e *Etcd) importDir(ctx context.Context, stateDir string) error {
	if e.dir == "" {
		return nil
	}
	marker := e.root + "imported/" + e.replica
	resp, err := e.cli.Get(ctx, marker)
	if err != nil {
		return err
	}
	if len(resp.Kvs) > 0 {
		return nil
	}
	var st templateState
	if data, err := os.ReadFile(filepath.Join(stateDir, StateFile)); err == nil {
		if err := json.Unmarshal(data, &st); err != nil {
			return fmt.Errorf("templates state %s: %w", StateFile, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	ents, err := os.ReadDir(e.dir)
	if err != nil {
		return err
	}
	files := map[uint32]string{}
	for _, ent := range ents {
		name := ent.Name()
		if ent.IsDir() || !strings.HasSuffix(name, ".xml") || strings.HasPrefix(name, ".") {
			continue
		}
		tpl, err := readTemplate(e.dir, name)
		if err != nil {
			e.logger.Warn("template not imported", "file", filepath.Join(e.dir, name), "err", err)
			continue
		}
		idx := e.reg.Index(registry.NSTemplate, name)
		if idx == 0 {
			return fmt.Errorf("template %s: %w: no index", name, ErrUnavailable)
		}
		files[idx] = name
		key := e.rowKey(name)
		val, _ := json.Marshal(rowValue{XML: tpl.XML, Image: st.Images[name], By: e.replica})
		if _, err := e.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, string(val))).Commit(); err != nil {
			return err
		}
	}
	if _, ok := files[st.Current]; !ok {
		st.Current = 0 // not a template of this directory: no choice to carry
	}
	if st.Current != 0 || st.Storage != 0 {
		// Only into a cluster without a choice: a replica never overrides the others'.
		val, _ := json.Marshal(choice{VM: st.Current, Storage: st.Storage, By: e.replica})
		if _, err := e.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(e.currentKey()), "=", 0)).
			Then(clientv3.OpPut(e.currentKey(), string(val))).Commit(); err != nil {
			return err
		}
	}
	if _, err := e.cli.Put(ctx, marker, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	if len(files) > 0 {
		e.logger.Info("templates imported into etcd", "dir", e.dir, "files", slices.Sorted(maps.Values(files)))
	}
	return nil
}
