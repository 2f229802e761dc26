package gateway

import (
	"log/slog"
	"testing"

	"github.com/vmgate/vmgate/gateway/view/viewtest"
)

// TestNotifierObjects: every object of the notifications the gateway sends is a node of
// the module (newNotifier resolves them once, and would panic).
func TestNotifierObjects(t *testing.T) {
	tv := viewtest.New(t)
	n := newNotifier(nil, nil, tv.View, func() int { return 0 }, slog.New(slog.DiscardHandler))
	for note, oids := range n.objects {
		if len(oids) != len(note.Objects) || len(oids) == 0 {
			t.Errorf("%s: %d objects resolved, want %d", note.Name, len(oids), len(note.Objects))
		}
	}
}
