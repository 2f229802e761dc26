package view

import (
	"cmp"
	"slices"
	"sort"

	"github.com/hashicorp/go-memdb"
)

// imageIndex is the merged context's disk images in index order, flattened from the
// image table's one index (host, index): a second index by number alone cost a radix
// leaf per image (about 370 bytes), this summary 8 bytes, rebuilt (O(n log n)) by the
// first merged-context read of diskImagesTable that sees a new image tree. Images
// change with disks and their sizes, not with counter polls.
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
		x.ims = append(x.ims, raw.(*DiskImage))
	}
	slices.SortFunc(x.ims, func(a, b *DiskImage) int { return cmp.Compare(a.Index, b.Index) })
	return x
}

// from returns the first image whose index is >= from; nil if none.
func (x *imageIndex) from(from uint32) *DiskImage {
	i := sort.Search(len(x.ims), func(i int) bool { return x.ims[i].Index >= from })
	if i == len(x.ims) {
		return nil
	}
	return x.ims[i]
}
