package hosts

import (
	"cmp"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/digitalocean/go-libvirt"
)

type poolXML struct {
	Type       string `xml:"type,attr"`
	Name       string `xml:"name"`
	UUID       string `xml:"uuid"`
	Capacity   memXML `xml:"capacity"`
	Allocation memXML `xml:"allocation"`
	Available  memXML `xml:"available"`
	Target     struct {
		Path string `xml:"path"`
	} `xml:"target"`
}

type volumeXML struct {
	Name       string `xml:"name"`
	Key        string `xml:"key"`
	Capacity   memXML `xml:"capacity"`
	Allocation memXML `xml:"allocation"`
	Target     struct {
		Path   string `xml:"path"`
		Format struct {
			Type string `xml:"type,attr"`
		} `xml:"format"`
	} `xml:"target"`
}

// ParsePoolXML reads a storage pool XML document (Active is not in it).
func ParsePoolXML(doc string) (Pool, error) {
	var x poolXML
	if err := xml.Unmarshal([]byte(doc), &x); err != nil {
		return Pool{}, fmt.Errorf("pool xml: %w", err)
	}
	p := Pool{Name: x.Name, Type: x.Type, Path: x.Target.Path}
	var err error
	if p.UUID, err = ParseUUID(strings.TrimSpace(x.UUID)); err != nil {
		return Pool{}, fmt.Errorf("pool xml %q: %w", x.Name, err)
	}
	for _, f := range []struct {
		dst *uint64
		src memXML
	}{{&p.Capacity, x.Capacity}, {&p.Allocation, x.Allocation}, {&p.Available, x.Available}} {
		if *f.dst, err = bytesOf(f.src); err != nil {
			return Pool{}, fmt.Errorf("pool xml %q: %w", x.Name, err)
		}
	}
	return p, nil
}

// ParseVolumeXML reads a storage volume XML document of the given pool.
func ParseVolumeXML(pool, doc string) (Volume, error) {
	var x volumeXML
	if err := xml.Unmarshal([]byte(doc), &x); err != nil {
		return Volume{}, fmt.Errorf("volume xml: %w", err)
	}
	v := Volume{Pool: pool, Name: x.Name, Key: x.Key, Path: x.Target.Path, Format: x.Target.Format.Type}
	var err error
	if v.Capacity, err = bytesOf(x.Capacity); err != nil {
		return Volume{}, fmt.Errorf("volume xml %q: %w", x.Name, err)
	}
	if v.Allocation, err = bytesOf(x.Allocation); err != nil {
		return Volume{}, fmt.Errorf("volume xml %q: %w", x.Name, err)
	}
	return v, nil
}

// bytesOf reads a storage size, whose default unit is bytes.
func bytesOf(m memXML) (uint64, error) {
	v := strings.TrimSpace(m.Value)
	if v == "" {
		return 0, nil
	}
	unit := strings.ToLower(m.Unit)
	if unit == "" {
		unit = "b"
	}
	if b, ok := unitBytes[unit]; ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("size %q: %w", v, err)
		}
		if n > math.MaxUint64/b {
			return 0, fmt.Errorf("size %s %s overflows", v, m.Unit)
		}
		return n * b, nil
	}
	k, err := kib(m)
	if k > math.MaxUint64/1024 {
		return 0, fmt.Errorf("size %s %s overflows", v, m.Unit)
	}
	return k * 1024, err
}

// storage reads all pools and the volumes of the active ones, sorted by name (libvirt
// lists in hash order), and remembers them as the session's last storage read. The
// caller holds the view lock.
func (s *Supervisor) storage(ctx context.Context, c *conn) ([]Pool, []Volume, error) {
	events := c.nc.poolEvents() // before the read: an event during it asks again
	pools, vols, err := s.readStorage(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	paths := make(map[string]bool, len(vols))
	for _, v := range vols {
		if v.Path != "" {
			paths[v.Path] = true
		}
	}
	s.volPaths.Store(&paths)
	old := s.storage0
	s.storage0 = storageState{key: poolsKey(pools), at: time.Now(), events: events, on: c.nc, pools: pools, vols: vols,
		changed: !slices.Equal(old.pools, pools) || !slices.Equal(old.vols, vols)}
	return pools, vols, nil
}

// readStorage is storage's read alone: Supervisor.Pools and Volumes must not take a
// change from the storage watch, which reports it (Sink.StorageSynced).
func (s *Supervisor) readStorage(ctx context.Context, c *conn) ([]Pool, []Volume, error) {
	pools, err := callT(ctx, c, "read storage pools", func(l *lv) ([]Pool, error) {
		list, _, err := l.ConnectListAllStoragePools(1, 0)
		if err != nil {
			return nil, fmt.Errorf("ConnectListAllStoragePools: %w", err)
		}
		var pools []Pool
		for _, sp := range list {
			p, err := readPool(l, sp)
			if libvirt.IsNotFound(err) || isNoPool(err) {
				continue // removed meanwhile
			}
			if err != nil {
				return nil, err
			}
			pools = append(pools, p)
		}
		return pools, nil
	})
	if err != nil {
		return nil, nil, err
	}
	var vols []Volume
	for _, p := range pools {
		if !p.Active {
			continue
		}
		v, err := s.poolVolumes(ctx, c, p.Name)
		if err != nil {
			return nil, nil, err
		}
		vols = append(vols, v...)
	}
	slices.SortFunc(pools, func(a, b Pool) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(vols, func(a, b Volume) int {
		return cmp.Or(strings.Compare(a.Pool, b.Pool), strings.Compare(a.Name, b.Name))
	})
	return pools, vols, nil
}

// inPool reports whether path is a volume of a pool, as the last storage read saw.
func (s *Supervisor) inPool(path string) bool {
	m := s.volPaths.Load()
	return m != nil && (*m)[path]
}

func isNoPool(err error) bool { return isLibvirtCode(err, libvirt.ErrNoStoragePool) }

func isLibvirtCode(err error, code libvirt.ErrorNumber) bool {
	var le libvirt.Error
	return errors.As(err, &le) && le.Code == uint32(code)
}

func readPool(l *lv, sp libvirt.StoragePool) (Pool, error) {
	doc, err := l.StoragePoolGetXMLDesc(sp, 0)
	if err != nil {
		return Pool{}, fmt.Errorf("pool %q: %w", sp.Name, err)
	}
	p, err := ParsePoolXML(doc)
	if err != nil {
		return Pool{}, err
	}
	active, err := l.StoragePoolIsActive(sp)
	if err != nil {
		return Pool{}, fmt.Errorf("pool %q: %w", sp.Name, err)
	}
	p.Active = active == 1
	return p, nil
}

// poolVolumes lists one pool's volumes with one call for the list and one per volume.
func (s *Supervisor) poolVolumes(ctx context.Context, c *conn, pool string) ([]Volume, error) {
	vols, err := callT(ctx, c, fmt.Sprintf("read volumes of pool %q", pool), func(l *lv) ([]Volume, error) {
		sp, err := l.StoragePoolLookupByName(pool)
		if err != nil {
			return nil, err
		}
		list, _, err := l.StoragePoolListAllVolumes(sp, 1, 0)
		if err != nil {
			return nil, err
		}
		var vols []Volume
		for _, sv := range list {
			doc, err := l.StorageVolGetXMLDesc(sv, 0)
			if isLibvirtCode(err, libvirt.ErrNoStorageVol) {
				continue // deleted meanwhile
			}
			if err != nil {
				return nil, err
			}
			v, err := ParseVolumeXML(pool, doc)
			if err != nil {
				return nil, err
			}
			vols = append(vols, v)
		}
		return vols, nil
	})
	if isNoPool(err) {
		return nil, nil
	}
	return vols, err
}
