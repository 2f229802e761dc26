// Package workdir makes the temporary directory a benchmark command keeps its node
// files, configurations and logs in.
package workdir

import (
	"fmt"
	"os"
)

// Make creates a directory named prefix* under the temporary directory. With keep it
// prints its path on stderr and done leaves it; else done removes it.
func Make(prefix string, keep bool) (dir string, done func(), err error) {
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	if keep {
		fmt.Fprintln(os.Stderr, "work directory:", dir)
		return dir, func() {}, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}
