package hosts

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"path"
	"strconv"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// CloneTimeout bounds a full volume copy (CloneVolume in pools that cannot hold a
// copy-on-write overlay); a copy-on-write overlay is created in one ordinary call.
const CloneTimeout = 10 * time.Minute

// CloneVolume gives a new volume, in the pool of the volume src, the content of src,
// and returns it. In file-based pools (dir, fs, netfs) the new volume is a qcow2
// overlay backed by src, named base.qcow2: created at once, whatever src's size, and
// writes never reach src. In other pools, or where the overlay cannot be made (libvirt
// needs qemu-img for it), it is a full copy (virStorageVolCreateXMLFrom) named base
// plus src's extension, bounded by CloneTimeout. A name the pool already has gets -2,
// -3... after base. libvirt cannot cancel a full copy: when ctx ends first (the SET
// answers after 10 s), CloneVolume returns ErrAbandoned and deletes the copy once
// libvirt has made it, so that no volume stays behind in the pool.
func (s *Supervisor) CloneVolume(ctx context.Context, pool, src, base string) (Volume, error) {
	c, err := s.conn()
	if err != nil {
		return Volume{}, err
	}
	what := fmt.Sprintf("clone volume %s/%s for %s", pool, src, base)
	overlay := false
	v, err := callT(ctx, c, what, func(l *lv) (Volume, error) {
		sp, err := l.StoragePoolLookupByName(pool)
		if err != nil {
			return Volume{}, err
		}
		pdoc, err := l.StoragePoolGetXMLDesc(sp, 0)
		if err != nil {
			return Volume{}, err
		}
		pl, err := ParsePoolXML(pdoc)
		if err != nil {
			return Volume{}, err
		}
		overlay = pl.Type == "dir" || pl.Type == "fs" || pl.Type == "netfs"
		if !overlay {
			return Volume{}, nil
		}
		_, srcVol, err := lookupVolume(l, sp, pool, src)
		if err != nil {
			return Volume{}, err
		}
		name, err := freeVolumeName(l, sp, base, ".qcow2")
		if err != nil {
			return Volume{}, err
		}
		nv, err := l.StorageVolCreateXML(sp, overlayXML(name, srcVol), 0)
		if err != nil {
			return Volume{}, err
		}
		return readVolume(l, pool, nv)
	})
	switch {
	case err == nil && overlay:
		return v, nil
	case err != nil && !overlay:
		return Volume{}, s.opErr(err)
	case err != nil:
		s.log.Warn("copy-on-write overlay failed, making a full copy", "pool", pool, "volume", src, "err", err)
	}
	copyVolume := func(l *lv) (Volume, error) {
		sp, err := l.StoragePoolLookupByName(pool)
		if err != nil {
			return Volume{}, err
		}
		sv, srcVol, err := lookupVolume(l, sp, pool, src)
		if err != nil {
			return Volume{}, err
		}
		name, err := freeVolumeName(l, sp, base, path.Ext(src))
		if err != nil {
			return Volume{}, err
		}
		nv, err := l.StorageVolCreateXMLFrom(sp, copyXML(name, srcVol), sv, 0)
		if err != nil {
			return Volume{}, err
		}
		return readVolume(l, pool, nv)
	}
	v, err = outlive(ctx, func(ctx context.Context) (Volume, error) {
		return callWithin(ctx, c, CloneTimeout, what, copyVolume)
	}, func(v Volume, err error) { s.dropAbandonedCopy(what, v, err) })
	return v, s.opErr(err)
}

// dropAbandonedCopy deletes a full copy its caller gave up on, once libvirt made it.
func (s *Supervisor) dropAbandonedCopy(what string, v Volume, err error) {
	if err != nil {
		s.log.Warn("abandoned volume copy failed; its pool may hold a partial volume", "op", what, "err", err)
		return
	}
	if err := s.DeleteVolume(context.Background(), v.Pool, v.Name); err != nil {
		s.log.Warn("abandoned volume copy not deleted", "op", what, "path", v.Path, "err", err)
		return
	}
	s.log.Info("abandoned volume copy deleted", "op", what, "path", v.Path)
}

// outlive runs op, which cannot be cancelled, without ctx's end: when ctx ends first it
// returns ErrAbandoned at once and hands op's result to done when op ends (op is
// bounded by its own deadline, e.g. CloneTimeout).
func outlive[T any](ctx context.Context, op func(context.Context) (T, error), done func(T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	res := make(chan result, 1)
	go func() {
		v, err := op(context.WithoutCancel(ctx))
		res <- result{v, err}
	}()
	select {
	case r := <-res:
		return r.v, r.err
	case <-ctx.Done():
		go func() { r := <-res; done(r.v, r.err) }()
		var zero T
		return zero, fmt.Errorf("%w (deleted when it ends): %w", ErrAbandoned, context.Cause(ctx))
	}
}

func lookupVolume(l *lv, sp libvirt.StoragePool, pool, name string) (libvirt.StorageVol, Volume, error) {
	sv, err := l.StorageVolLookupByName(sp, name)
	if err != nil {
		return sv, Volume{}, err
	}
	v, err := readVolume(l, pool, sv)
	return sv, v, err
}

func readVolume(l *lv, pool string, sv libvirt.StorageVol) (Volume, error) {
	doc, err := l.StorageVolGetXMLDesc(sv, 0)
	if err != nil {
		return Volume{}, err
	}
	return ParseVolumeXML(pool, doc)
}

// freeVolumeName returns base+ext, or base-2+ext, base-3+ext... that the pool lacks.
func freeVolumeName(l *lv, sp libvirt.StoragePool, base, ext string) (string, error) {
	name := base + ext
	for i := 2; ; i++ {
		_, err := l.StorageVolLookupByName(sp, name)
		if isLibvirtCode(err, libvirt.ErrNoStorageVol) {
			return name, nil
		}
		if err != nil {
			return "", err
		}
		name = base + "-" + strconv.Itoa(i) + ext
	}
}

// DeleteVolume deletes a volume of a pool (used to take back a clone whose VM could not
// be defined).
func (s *Supervisor) DeleteVolume(ctx context.Context, pool, name string) error {
	_, err := withConnT(ctx, s, fmt.Sprintf("delete volume %s/%s", pool, name), func(l *lv) (struct{}, error) {
		sp, err := l.StoragePoolLookupByName(pool)
		if err != nil {
			return struct{}{}, err
		}
		sv, err := l.StorageVolLookupByName(sp, name)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, l.StorageVolDelete(sv, 0)
	})
	return err
}

// overlayXML is a qcow2 volume of src's capacity backed by src.
func overlayXML(name string, src Volume) string {
	format := src.Format
	if format == "" {
		format = "raw"
	}
	var b bytes.Buffer
	b.WriteString("<volume><name>")
	_ = xml.EscapeText(&b, []byte(name))
	fmt.Fprintf(&b, "</name><capacity unit='bytes'>%d</capacity><allocation unit='bytes'>0</allocation>", src.Capacity)
	b.WriteString("<target><format type='qcow2'/></target><backingStore><path>")
	_ = xml.EscapeText(&b, []byte(src.Path))
	b.WriteString("</path><format type='")
	_ = xml.EscapeText(&b, []byte(format))
	b.WriteString("'/></backingStore></volume>")
	return b.String()
}

// copyXML describes a full copy of src named name.
func copyXML(name string, src Volume) string {
	var b bytes.Buffer
	b.WriteString("<volume><name>")
	_ = xml.EscapeText(&b, []byte(name))
	fmt.Fprintf(&b, "</name><capacity unit='bytes'>%d</capacity>", src.Capacity)
	if src.Format != "" {
		b.WriteString("<target><format type='")
		_ = xml.EscapeText(&b, []byte(src.Format))
		b.WriteString("'/></target>")
	}
	b.WriteString("</volume>")
	return b.String()
}
