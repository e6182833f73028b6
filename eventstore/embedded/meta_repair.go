package embedded

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/minio/highwayhash"
)

// The server keeps a stream's (and a consumer's) configuration in meta.inf and a
// checksum of it in meta.sum, and writes them one after the other, each through a
// temporary file and a rename: at the stream's creation and at every update of its
// configuration. A kill between the two renames leaves a meta.inf that meta.sum does
// not describe (no meta.sum after a creation, the old one after an update), and at its
// next start nats-server 2.15 skips such a stream with a warning ("Missing stream
// checksum file", "checksums do not match"): its messages stay in its directory, but
// the stream is not there. A create of the same name recovers them, but only for that
// run: the server writes meta.sum only when meta.inf is missing, so the stream vanishes
// again at every start, and whatever reads the log before it is created again (the
// keyring looking for a data key, an offline command) finds nothing.
//
// repairStreamMeta, run on the store before the server starts, finishes the write the
// kill interrupted: where meta.inf is whole (it is only ever renamed into place, so a
// process that dies leaves the old or the new one, never half of one) and names the
// directory it is in, it writes the checksum the server would have written. A meta.inf
// that is not such a configuration (empty after a power cut, or damaged) is left alone,
// as are encrypted stores, which this server does not make.
const (
	metaFile    = "meta.inf"
	metaSumFile = "meta.sum"
	metaKeyFile = "meta.key"
)

// repairStreamMeta repairs the metadata checksums of every stream and consumer under
// root (the server's StoreDir/jetstream), and reports each repair to log.
func repairStreamMeta(root string, log *slog.Logger) error {
	// What cannot be listed (a new store, or a path that is not a directory) is left
	// to the server, which says what is wrong with it in its own words.
	accounts, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	for _, acc := range accounts {
		streamsDir := filepath.Join(root, acc.Name(), "streams")
		streams, err := os.ReadDir(streamsDir)
		if err != nil {
			continue
		}
		for _, st := range streams {
			// A name starting with "." is a stream deleted half-way, which the server
			// removes at start.
			if !st.IsDir() || strings.HasPrefix(st.Name(), ".") {
				continue
			}
			dir := filepath.Join(streamsDir, st.Name())
			if err := repairMeta(dir, st.Name(), st.Name(), "stream", log); err != nil {
				return err
			}
			consumers, _ := os.ReadDir(filepath.Join(dir, "obs"))
			for _, c := range consumers {
				if !c.IsDir() {
					continue
				}
				cdir := filepath.Join(dir, "obs", c.Name())
				if err := repairMeta(cdir, st.Name()+"/"+c.Name(), c.Name(), "consumer", log); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// repairMeta writes dir's meta.sum where it does not match its meta.inf and meta.inf
// is the configuration of name. hashKey is what the server keys the checksum with:
// the stream's name, or "stream/consumer".
func repairMeta(dir, hashKey, name, kind string, log *slog.Logger) error {
	meta, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return nil // none, or unreadable: the server skips it and says so
	}
	if _, err := os.Stat(filepath.Join(dir, metaKeyFile)); err == nil {
		return nil // encrypted: not ours to judge
	}
	want, err := metaChecksum(hashKey, meta)
	if err != nil {
		return err
	}
	sumPath := filepath.Join(dir, metaSumFile)
	have, err := os.ReadFile(sumPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read the %s metadata checksum in %s: %w", kind, dir, err)
	}
	if string(have) == want || !namesItself(meta, name) {
		return nil
	}
	if err := writeFileSynced(sumPath, []byte(want)); err != nil {
		return fmt.Errorf("repair the %s metadata checksum in %s: %w", kind, dir, err)
	}
	log.Warn("embedded nats: finished the metadata of a "+kind+" whose write a crash interrupted",
		slog.String(kind, name), slog.Bool("checksum_was_missing", have == nil))
	return nil
}

// metaChecksum is the server's checksum of a metadata file: HighwayHash-64 keyed with
// the SHA-256 of hashKey, in hex.
func metaChecksum(hashKey string, meta []byte) (string, error) {
	key := sha256.Sum256([]byte(hashKey))
	hh, err := highwayhash.New64(key[:])
	if err != nil {
		return "", fmt.Errorf("metadata checksum: %w", err)
	}
	hh.Write(meta)
	return hex.EncodeToString(hh.Sum(nil)), nil
}

// namesItself says whether meta is a JSON configuration whose name (or, for a
// durable consumer, durable name) is name.
func namesItself(meta []byte, name string) bool {
	var cfg struct {
		Name    string `json:"name"`
		Durable string `json:"durable_name"`
	}
	if err := json.Unmarshal(meta, &cfg); err != nil {
		return false
	}
	return cfg.Name == name || cfg.Durable == name
}

// writeFileSynced replaces path with data durably: a synced temporary file renamed
// into place, and the directory synced.
func writeFileSynced(path string, data []byte) error {
	tmp := path + ".repair"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
