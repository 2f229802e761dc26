package hosts

import (
	"strings"
	"time"
	"unicode"
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
	start, end := -1, 0 // the leading procedure words are what[start:end]
	for w := range strings.FieldsSeq(what) {
		if !procedureWord(w) {
			break
		}
		i := end + strings.Index(what[end:], w)
		if start < 0 {
			start = i
		}
		end = i + len(w)
	}
	if start < 0 {
		return "other"
	}
	p := what[start:end]
	if strings.IndexFunc(p, unicode.IsSpace) < 0 {
		return p // one word, no allocation: the observer runs on every call
	}
	return strings.Join(strings.Fields(p), "_")
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
