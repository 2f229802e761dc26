package gateway

import "github.com/vmgate/vmgate/gateway/templates"

// Templates returns the template store (virtualMachineTemplateTable and the two
// current-template scalars): the MIB read side and Control share it.
func (g *Gateway) Templates() templates.Store { return g.tpl }

// Control returns the controller that SETs of the VIRTUAL-MACHINES-MIB go through
// (mib.WithController): the view, the index registry, the template store and the
// host supervisors of g.
func (g *Gateway) Control() *Control {
	return NewControl(g.view, g.reg, g.tpl, g.Host, g.logger.With("component", "control"))
}
