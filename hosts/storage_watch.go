package hosts

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// Storage between resyncs. Pools and volumes are polled at a bounded cost: a stats
// round lists the pools and which are active (two calls) when a storage pool lifecycle
// event came since the last read (counted off the wire: go-libvirt routes domain
// events only), or at every round on a daemon without those events; when that list
// changed, or storage_interval has passed since the last read (volumes created or
// deleted in an existing pool raise no pool event anyway), the whole storage is
// re-read as a resync does and reported with Sink.StorageSynced.

// storageState is what the session remembers of the last storage read; guarded by
// the view lock (s.view).
type storageState struct {
	key    string       // poolsKey of the pools read
	at     time.Time    // when
	events uint64       // the connection's pool events before the pools were listed
	on     *readErrConn // the connection events counts on: a new one lists the pools
	none   bool         // the driver has no storage: stop asking until the next session
	// What was read, and whether it differs from the read before: an unchanged read is
	// not reported (the view would re-resolve every domain's disks for nothing).
	pools   []Pool
	vols    []Volume
	changed bool
}

// poolsKey identifies a list of pools by name and active state.
func poolsKey(pools []Pool) string {
	keys := make([]string, len(pools))
	for i, p := range pools {
		keys[i] = p.Name + map[bool]string{true: "=1", false: "=0"}[p.Active]
	}
	slices.Sort(keys)
	return strings.Join(keys, "\x00")
}

// watchStorage runs after each stats poll: it re-reads storage when the pool list
// changed or the last read is older than storage_interval.
func (s *Supervisor) watchStorage(ctx context.Context, c *conn) error {
	if err := s.lockView(ctx); err != nil {
		return err
	}
	defer s.unlockView()
	if s.storage0.none {
		return nil
	}
	events := c.nc.poolEvents()
	due := time.Since(s.storage0.at) >= s.cfg.StorageInterval
	if c.poolEvents && s.storage0.on == c.nc && events == s.storage0.events && !due {
		return nil // no pool came, went, started or stopped since the last listing
	}
	pools, err := callT(ctx, c, "list storage pools", func(l *lv) ([]Pool, error) {
		all, _, err := l.ConnectListAllStoragePools(1, 0)
		if err != nil {
			return nil, err
		}
		active, _, err := l.ConnectListAllStoragePools(1, libvirt.ConnectListStoragePoolsActive)
		if err != nil {
			return nil, err
		}
		out := make([]Pool, len(all))
		for i, p := range all {
			out[i] = Pool{Name: p.Name, Active: slices.ContainsFunc(active, func(a libvirt.StoragePool) bool { return a.Name == p.Name })}
		}
		return out, nil
	})
	switch {
	case connLost(err):
		return err
	case isLibvirtCode(err, libvirt.ErrNoSupport):
		s.storage0.none = true
		return nil
	case err != nil:
		s.log.Debug("storage pools not listed", "err", err)
		return nil
	}
	if poolsKey(pools) == s.storage0.key && !due {
		s.storage0.events, s.storage0.on = events, c.nc
		return nil
	}
	all, vols, err := s.storage(ctx, c)
	if connLost(err) {
		return err
	}
	if err != nil {
		s.log.Warn("storage pools not re-read", "err", err)
		return nil
	}
	if !s.storage0.changed {
		return nil
	}
	s.emit(func() { s.sink.StorageSynced(s.cfg.Name, all, vols) })
	return nil
}
