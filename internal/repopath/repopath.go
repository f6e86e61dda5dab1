// Package repopath finds, for tests, the repository's root and the shared
// test data beside it (../shared/testdata), whatever package directory the
// test runs in. It knows nothing of what the data holds.
package repopath

import (
	"errors"
	"os"
	"path/filepath"
)

// Root returns the directory holding go.mod, the nearest one at or above
// the working directory.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// SharedTestdata returns ../shared/testdata beside the repository root. It
// does not check that the directory exists.
func SharedTestdata() (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "..", "shared", "testdata"), nil
}
