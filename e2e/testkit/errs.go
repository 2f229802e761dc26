package testkit

import (
	"strings"
	"testing"
)

// WantErrs checks err, the result of what, against want, texts it must all contain
// (a validation that reports every problem at once): no want, no error. It reports
// whether there is an error for the caller to check further.
func WantErrs(t testing.TB, what string, err error, want []string) bool {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("%s = %v, want nil", what, err)
		}
		return false
	}
	if err == nil {
		t.Fatalf("%s = nil, want %q", what, want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s = %v\nlacks %q", what, err, w)
		}
	}
	return true
}
