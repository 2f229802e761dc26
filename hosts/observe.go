package hosts

import (
	"strings"
	"time"
)

// CallObserver is told of every libvirt call a supervisor made: its procedure (see
// Procedure), how long it took and its error. It runs on the calling goroutine, so it
// must be cheap and safe for concurrent use.
type CallObserver func(procedure string, d time.Duration, err error)

// Procedure turns the description of a call ("DomainGetBlockInfo \"vda\" ...",
// "start 6695eb01-...", "read volumes of pool \"default\"") into a name with no
// per-object part: its leading words made of letters and hyphens (a UUID is not such a
// word), joined by "_". A metric label of bounded cardinality.
func Procedure(what string) string {
	var words []string
	for w := range strings.FieldsSeq(what) {
		if !procedureWord(w) {
			break
		}
		words = append(words, w)
	}
	if len(words) == 0 {
		return "other"
	}
	return strings.Join(words, "_")
}

func procedureWord(w string) bool {
	if len(w) >= 32 { // a UUID, or a name nobody wants as a label
		return false
	}
	for _, r := range w {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && r != '-' {
			return false
		}
	}
	return true
}
