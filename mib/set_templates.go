package mib

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// templateRow plans virtualMachineTemplateTable. Rows are created whole by
// createAndGo (domainTemplateName required; createAndWait is not supported: wrongValue)
// and destroyed by destroy; columns of an existing (active) row cannot change
// (inconsistentValue, as the MIB says for active rows).
func (p *planner) templateRow(rv *rowVars) ([]change, error) {
	idx := rv.index[0]
	cur, _ := p.ctl.CurrentTemplates()
	old, exists := p.ctl.Template(idx)
	if v, ok := rv.get(ColTemplateXmlFile); ok && !p.insideTemplateDir(v.text) {
		return nil, setErr(gosnmp.WrongValue, v, "templateXmlFile %q is outside the template directory", v.text)
	}
	rs, hasRS := rv.get(ColTemplateRowStatus)
	if !hasRS {
		v := rv.anyVar()
		if !exists {
			return nil, setErr(gosnmp.InconsistentName, v, "template %d does not exist: create it with templateRowStatus", idx)
		}
		return nil, setErr(gosnmp.InconsistentValue, v, "columns of an active template cannot change")
	}
	switch RowStatus(rs.num) {
	case RowActive:
		if !exists {
			return nil, setErr(gosnmp.InconsistentValue, rs, "template %d does not exist", idx)
		}
		if len(rv.cols) > 1 {
			return nil, setErr(gosnmp.InconsistentValue, rv.anyVar(), "columns of an active template cannot change")
		}
		return nil, nil
	case RowDestroy:
		if !exists {
			return nil, nil
		}
		if idx == cur {
			return nil, setErr(gosnmp.InconsistentValue, rs, "template %d is the current template", idx)
		}
		if err := p.templatesAvailable(rs); err != nil {
			return nil, err
		}
		return []change{{index: rs.Index, object: obj("templateRowStatus", idx), old: old.Name, new: "destroy",
			do: func(context.Context) error { return p.ctl.DeleteTemplate(idx) }}}, nil
	}
	// createAndGo
	if exists {
		return nil, setErr(gosnmp.InconsistentValue, rs, "template %d exists", idx)
	}
	if p.ctl.TemplateDir() == "" {
		return nil, setErr(gosnmp.InconsistentValue, rs, "templates.dir is not configured")
	}
	t := TemplateInfo{Index: idx, MemoryMb: 512, VCPUs: 1, Status: RowActive}
	nv, ok := rv.get(ColDomainTemplateName)
	if !ok {
		return nil, setErr(gosnmp.InconsistentValue, rs, "createAndGo needs domainTemplateName in the same PDU")
	}
	if strings.ContainsAny(nv.text, "/\\") || strings.HasPrefix(nv.text, ".") {
		return nil, setErr(gosnmp.WrongValue, nv, "domainTemplateName %q cannot name a file", nv.text)
	}
	if p.ctl.TemplateFileExists(nv.text + ".xml") {
		return nil, setErr(gosnmp.InconsistentValue, nv, "the template directory has a file %s.xml", nv.text)
	}
	if !p.ctl.TemplateIndexFree(idx, nv.text+".xml") {
		return nil, setErr(gosnmp.InconsistentValue, rs, "templateIndex %d is still reserved for a destroyed template", idx)
	}
	t.Name = nv.text
	if v, ok := rv.get(ColTemplateMemoryMb); ok {
		// The same bound as memoryTotalMb, against the largest host: a VM of this
		// template could start nowhere else (checked again against its host at creation).
		if err := p.fitsHost(v, "", uint64(v.num)); err != nil {
			return nil, err
		}
		t.MemoryMb = uint32(v.num)
	}
	if v, ok := rv.get(ColTemplateVcpus); ok {
		t.VCPUs = uint32(v.num)
	}
	if v, ok := rv.get(ColTemplateDiskImageIndex); ok {
		t.Image = uint32(v.num)
		if err := p.imageInPool(v, t.Image); err != nil {
			return nil, err
		}
	}
	if v, ok := rv.get(ColTemplateXmlFile); ok {
		t.XMLFile = v.text
	}
	if err := p.templatesAvailable(rs); err != nil {
		return nil, err
	}
	return []change{{index: rs.Index, object: obj("templateRowStatus", idx), old: "", new: t.Name,
		do:   func(context.Context) error { return p.ctl.PutTemplate(t) },
		undo: func(context.Context) error { return p.ctl.DeleteTemplate(idx) }}}, nil
}

// templatesAvailable answers resourceUnavailable (RFC 3416 4.2.5 step 9, after every
// other check) when the template store cannot change now.
func (p *planner) templatesAvailable(v setVar) error {
	if err := p.ctl.TemplatesAvailable(); err != nil {
		return setErr(gosnmp.ResourceUnavailable, v, "templates: %w", err)
	}
	return nil
}

// insideTemplateDir accepts "" (the built-in definition) and what TemplateFile accepts.
func (p *planner) insideTemplateDir(path string) bool {
	_, ok := TemplateFile(p.ctl.TemplateDir(), path)
	return path == "" || ok
}

// TemplateFile returns the name of the file of template directory dir that path
// (templateXmlFile) names: a plain file name, or an absolute path directly in dir.
// path must be clean, so that no step of it leaves dir even for a moment.
func TemplateFile(dir, path string) (string, bool) {
	if path == "" || path != filepath.Clean(path) {
		return "", false
	}
	name := path
	if filepath.IsAbs(path) {
		if dir == "" || filepath.Dir(path) != filepath.Clean(dir) {
			return "", false
		}
		name = filepath.Base(path)
	}
	if name == "." || name == ".." || strings.ContainsRune(name, filepath.Separator) {
		return "", false
	}
	return name, true
}

func (p *planner) imageInPool(v setVar, image uint32) error {
	if image == 0 {
		return nil
	}
	if im, ok := p.ctl.Image(p.scope, image); !ok || !im.InPool {
		return setErr(gosnmp.InconsistentValue, v, "disk image %d is not in a pool", image)
	}
	return nil
}
