//go:build !linux

package embedded

import (
	"os"
	"time"
)

// fstat is the size and modification time of an open file.
func fstat(f *os.File) (size int64, mod time.Time, err error) {
	info, err := f.Stat()
	if err != nil {
		return 0, time.Time{}, err
	}
	return info.Size(), info.ModTime(), nil
}
