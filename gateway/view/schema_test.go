package view

import "testing"

func TestInventorySchemaValid(t *testing.T) {
	if err := schema().Validate(); err != nil {
		t.Fatalf("schema: %v", err)
	}
}
