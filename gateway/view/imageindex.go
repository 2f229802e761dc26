package view

import (
	"cmp"
	"slices"
	"sort"

	"github.com/hashicorp/go-memdb"
)

// hostImages is the image table's record: one host's disk images, ascending Index. A
// memdb record costs a radix leaf per index (about 370 bytes), which a record per
// image paid for every VM; the writer recomputes a host's images as a whole anyway
// (syncImages), and writes a new record only when one of them changed.
type hostImages struct {
	Host string
	ims  []*DiskImage
}

// from returns the first image of ims (ascending Index) whose index is >= from; nil
// if none.
func imageFrom(ims []*DiskImage, from uint32) *DiskImage {
	i := sort.Search(len(ims), func(i int) bool { return ims[i].Index >= from })
	if i == len(ims) {
		return nil
	}
	return ims[i]
}

// imageIndex is the merged context's disk images in index order, every host's merged:
// built (O(n log n)) by the first merged-context read of diskImagesTable that sees a
// new image tree. Images change with disks and their sizes, not with counter polls.
type imageIndex struct {
	ims []*DiskImage // ascending Index
}

// imageIndex returns the summary of the snapshot's image tree, building it when the
// cached one is of another tree; nil if the tree cannot be read.
func (s *Snapshot) imageIndex() *imageIndex {
	if s.iidx == nil {
		s.iidx = ofTree(s, tableImage, indexID, &s.v.imgs, buildImageIndex)
	}
	return s.iidx
}

func buildImageIndex(it memdb.ResultIterator) *imageIndex {
	x := &imageIndex{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		x.ims = append(x.ims, raw.(*hostImages).ims...)
	}
	slices.SortFunc(x.ims, func(a, b *DiskImage) int { return cmp.Compare(a.Index, b.Index) })
	return x
}

// hostImages returns host's images, ascending Index (the last host's again).
func (s *Snapshot) hostImages(host string) []*DiskImage {
	if s.imHost != host || !s.imValid {
		s.imHost, s.imValid, s.ims = host, true, nil
		if raw, err := s.txn.First(tableImage, indexID, hostKey(host)); err == nil && raw != nil {
			s.ims = raw.(*hostImages).ims
		}
	}
	return s.ims
}

// SeekImage returns the first disk image of ctx whose index is >= from; nil if none.
func (s *Snapshot) SeekImage(ctx string, from uint32) *DiskImage {
	if ctx == "" {
		if x := s.imageIndex(); x != nil {
			return imageFrom(x.ims, from)
		}
		return nil
	}
	if s.hosts[ctx] == nil {
		return nil
	}
	return imageFrom(s.hostImages(ctx), from)
}

// HostImage returns host's disk image with index idx (a disk's image is on its VM's
// host); nil if none.
func (s *Snapshot) HostImage(host string, idx uint32) *DiskImage {
	if im := imageFrom(s.hostImages(host), idx); im != nil && im.Index == idx {
		return im
	}
	return nil
}
