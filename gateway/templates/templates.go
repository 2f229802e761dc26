// Package templates keeps the rows of virtualMachineTemplateTable (a domain XML
// definition each) and the choice of current templates (virtualMachineTemplate,
// storageTemplate). Store is what the rest of the gateway uses; Files keeps them in
// templates.dir and the state directory (one gateway), Etcd in the etcd cluster of the
// replicas. Indexes come from the registry.
package templates

import "path/filepath"

// Store holds the templates. Implementations are safe for concurrent use.
type Store interface {
	// Dir is the template directory, whose files templateXmlFile names ("" when
	// templates are disabled).
	Dir() string
	// List returns every template, by Index.
	List() []Template
	// Get returns the template with index idx.
	Get(idx uint32) (Template, bool)
	// Current returns virtualMachineTemplate and storageTemplate (0: none).
	Current() (vm, storage uint32)
	// SetCurrent chooses the current templates; vm is a template's index or 0.
	SetCurrent(vm, storage uint32) error
	// FileExists reports whether a new template of that file name would replace
	// something: an entry of the directory (Files), a template (Etcd).
	FileExists(name string) bool
	// Put writes a template; a new file gets index tpl.Index when not 0.
	Put(tpl Template) error
	// Delete removes the template of index idx.
	Delete(idx uint32) error
	// Available returns why the templates cannot change now (nil: they can), so that a
	// SET is refused before anything is applied.
	Available() error
	// Close stops background work.
	Close() error
}

var _ Store = (*Files)(nil)

// Template is a row of virtualMachineTemplateTable: one domain XML file of the
// template directory.
type Template struct {
	Index    uint32 // templateIndex, from the registry (namespace registry.NSTemplate, key File)
	File     string // base name inside the directory, e.g. "small.xml"
	Name     string // domainTemplateName: the domain's <name>, else the file's base name
	MemoryMb uint32 // from <memory>
	VCPUs    uint32 // from <vcpu current=...>, else <vcpu>
	MaxVCPUs uint32 // from <vcpu>: a new VM can get vCPUs live up to this
	Image    uint32 // templateDiskImageIndex (kept in the state file)
	XML      string // the file's content
}

// Path returns the template file's path.
func (t Template) Path(dir string) string { return filepath.Join(dir, t.File) }
