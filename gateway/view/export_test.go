package view

import "github.com/vmgate/vmgate/hosts"

// What the package's external tests see of its internals.

// RegKey is the registry key of vm's device of namespace ns numbered idx; "" if none.
func (vm *VM) RegKey(ns string, idx uint32) string {
	var k string
	vm.regKeys(func(n, key string, i *uint32) {
		if n == ns && *i == idx {
			k = key
		}
	})
	return k
}

// OSRegKey is the registry key of a domain's guest OS row.
func OSRegKey(d *hosts.Domain) string { return osRegKey(new(newStrTable().compact(d))) }
