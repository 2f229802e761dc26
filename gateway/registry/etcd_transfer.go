package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// importBatch keys per transaction: two puts and two compares each, under etcd's
// default --max-txn-ops of 128.
const importBatch = 50

// Export returns the registry as indexes.json holds it, from the mirror (current as of
// its last watch event), expired keys left out.
func (e *Etcd) Export() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]*regSpace{}
	for ns, sp := range e.spaces {
		rs := newRegSpace()
		rs.Last = sp.last
		for key, m := range sp.entries {
			if !e.expired(m.released) {
				rs.put(key, m.id)
				if m.released != nil {
					rs.released[key] = *m.released
				}
			}
		}
		out[ns] = rs
	}
	return encodeRegistry(out)
}

// Import writes data (an Export, or a state directory's indexes.json) into etcd, which
// must hold no registry under the prefix: every key keeps its number, every counter its
// value. Keys are written in batches, each a transaction requiring its keys absent; an
// import that fails half-way leaves what it wrote (delete the prefix and run it again).
func (e *Etcd) Import(data []byte) error {
	spaces, err := decodeRegistry(data)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	e.mu.Lock()
	busy := false
	for _, sp := range e.spaces {
		busy = busy || len(sp.entries) > 0 || sp.last > 0
	}
	e.mu.Unlock()
	if busy {
		return fmt.Errorf("import into etcd %s: %w", e.root, ErrNotEmpty)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+len(spaces))*time.Minute)
	defer cancel()
	var cmps []clientv3.Cmp
	var ops []clientv3.Op
	commit := func() error {
		if len(ops) == 0 {
			return nil
		}
		resp, err := e.cli.Txn(ctx).If(cmps...).Then(e.marked(ops...)...).Commit()
		cmps, ops = nil, nil
		switch {
		case err != nil:
			return fmt.Errorf("import into etcd %s: %w: %w", e.root, ErrUnavailable, err)
		case !resp.Succeeded:
			return fmt.Errorf("import into etcd %s: %w (written meanwhile)", e.root, ErrNotEmpty)
		}
		return nil
	}
	for ns, sp := range spaces {
		for key, id := range sp.ids.all() {
			var released *time.Time
			if t, ok := sp.released[key]; ok {
				released = &t
			}
			val, _ := json.Marshal(record{ID: id, Released: released, By: "import"})
			kk, ik := e.keyKey(ns, key), e.idKey(ns, id)
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(kk), "=", 0),
				clientv3.Compare(clientv3.CreateRevision(ik), "=", 0))
			ops = append(ops, clientv3.OpPut(kk, string(val)), clientv3.OpPut(ik, key))
			if len(ops) >= 2*importBatch {
				if err := commit(); err != nil {
					return err
				}
			}
		}
		lk := e.lastKey(ns)
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(lk), "=", 0))
		ops = append(ops, clientv3.OpPut(lk, strconv.FormatUint(uint64(sp.Last), 10)))
	}
	return commit()
}
