package config

import (
	"fmt"
	"io"
	"os"
)

// maxSecretFile bounds a secret file: tokens, keys and URLs are short, and
// a path that names something else (a device, a log) must fail with a
// clear problem instead of reading without end.
const maxSecretFile = 64 << 10

// readSecretFile reads the secret file name: a regular file (a symlink to
// one, as Kubernetes mounts them, is fine) of at most maxSecretFile bytes.
func readSecretFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSecretFile {
		return nil, fmt.Errorf("%s is larger than %d KiB, too large for a secret: is it the right file?", name, maxSecretFile>>10)
	}
	return data, nil
}
