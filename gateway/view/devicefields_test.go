package view

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/vmgate/vmgate/hosts"
)

// fillFields sets every field of the struct p points to a value of its own (strings
// named after the field, numbers and bools non-zero), so that a field a conversion
// forgets shows as a difference.
func fillFields(p any) {
	v := reflect.ValueOf(p).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(fmt.Sprintf("%s-%d", v.Type().Field(i).Name, i))
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int32, reflect.Int64:
			f.SetInt(int64(i + 1))
		case reflect.Uint, reflect.Uint32, reflect.Uint64:
			f.SetUint(uint64(i + 1))
		default:
			panic("fillFields: a field of kind " + f.Kind().String() + ": extend the test")
		}
	}
}

// TestDeviceFieldsRoundTrip: a disk or NIC stored in the view and read back as hosts
// reported it keeps every field of hosts.Disk and hosts.NIC: the view lists them by
// hand (strTable.disk, hostsDisk), and a field added to hosts must be added there too.
func TestDeviceFieldsRoundTrip(t *testing.T) {
	strs := newStrTable()
	var d hosts.Disk
	fillFields(&d)
	vd := strs.disk(&d)
	if got := vd.hostsDisk(); got != d {
		t.Errorf("disk round trip: %+v, want %+v", got, d)
	}
	var n hosts.NIC
	fillFields(&n)
	vn := strs.nic(&n)
	if got := vn.hostsNIC(); got != n {
		t.Errorf("NIC round trip: %+v, want %+v", got, n)
	}
}
