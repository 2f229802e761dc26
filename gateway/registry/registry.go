// Package registry hands out the stable indexes of the MIB's tables: one number per
// key (a VM's UUID, a disk of a VM, a host...) in each namespace, kept across restarts
// and for a grace period after the key goes. Store is what the rest of the gateway
// uses; File keeps the registry in the state directory (one gateway). It imports no
// other vmgate package.
package registry

import "errors"

// Store allocates, looks up and releases indexes. Implementations are safe for
// concurrent use.
type Store interface {
	// Index returns key's number in namespace, allocating one if needed, and marks the
	// key in use; 0 only when every number of the namespace is taken.
	Index(namespace, key string) uint32
	// Lookup returns key's number without allocating; false if it has none.
	Lookup(namespace, key string) (uint32, bool)
	// Release marks key as no longer in use; it keeps its number for the grace period.
	Release(namespace, key string)
	// Free reports whether id is held by no key of namespace.
	Free(namespace string, id uint32) bool
	// NextFree returns the number Index would give the next new key; 0 if none.
	NextFree(namespace string) uint32
	// Bind gives key the number id a manager chose; ErrTaken when another key holds it.
	Bind(namespace, key string, id uint32) error
	// Unbind removes key at once: undoes a Bind whose object was never created.
	Unbind(namespace, key string)
	// Export returns the whole registry in the format of FileName (indexes.json), the
	// form in which it moves between backends.
	Export() ([]byte, error)
	// Import loads an Export (or an indexes.json) into an empty registry, numbers
	// unchanged; ErrNotEmpty when the registry already holds keys.
	Import(data []byte) error
	// Close writes what is pending and stops background work.
	Close() error
}

// FileName is the registry file's name inside snmp.state_dir.
const FileName = "indexes.json"

// Namespaces of the index registry. Keys are built by the view (its key helpers in
// view/inventory.go); other tables (templates) pick their own namespace and key. The view
// releases vm, storage, network, hba, image, pool and host keys when their object goes,
// and the os keys of guest agents' answers when no VM holds them; the other os keys and
// the kernel keys are few and kept.
const (
	NSVM       = "vm"       // key: VM UUID (canonical form); vmId
	NSStorage  = "storage"  // key: "<vmId>/<target>"; storageIndex
	NSNetwork  = "network"  // key: "<vmId>/<mac>"; networkIndex
	NSHBA      = "hba"      // key: "<vmId>/<controller type>/<controller index>"; hbaIndex
	NSImage    = "image"    // key: "<host>:<path>"; diskImageIndex
	NSPool     = "pool"     // key: "<host>:<pool name>"; storage pool index
	NSOS       = "os"       // key: "agent:<os-release ID>/<VERSION_ID>\x00<name>", else libosinfo id, else "type:<os type>"; osIndex
	NSKernel   = "kernel"   // key: kernel NUL initrd NUL cmdline; kernelIndex
	NSHost     = "host"     // key: configured host name; hypervisor index
	NSTemplate = "template" // key: template file name; templateIndex
	NSReplica  = "replica"  // key: replica name; replicaIndex (few, kept: a replica that returns keeps its row number)
)

// MaxIndex is the largest index the registry hands out (SNMP indexes are 1..2^31-1).
const MaxIndex = 1<<31 - 1

// ErrCorrupt is returned by OpenFile when the registry file exists but cannot be
// trusted. The daemon refuses to start rather than renumber every table.
var ErrCorrupt = errors.New("index registry corrupt")

// ErrNotEmpty is returned by Import into a registry that already holds keys: merging
// two registries would renumber.
var ErrNotEmpty = errors.New("index registry not empty")

// ErrTaken is returned by Bind when the number belongs to another key.
var ErrTaken = errors.New("index already taken")

var _ Store = (*File)(nil)

// empty reports whether spaces hold no key and no counter.
func empty(spaces map[string]*regSpace) bool {
	for _, sp := range spaces {
		if sp.ids.len() > 0 || sp.Last > 0 {
			return false
		}
	}
	return true
}
