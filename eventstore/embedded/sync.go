package embedded

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Group sync (issue 11, create). A server that fsyncs every write (SyncAlways) stores
// one message after another, each behind its own fsync: ~200 µs on an idle disk, ~400
// under load, so the log took no more than ~2,500 creates a second whatever else got
// faster, and nats-server 2.15 shares a sync among messages only inside an atomic batch,
// which an R1 file stream stages in a file store of its own, costing more than it saves.
//
// With GroupSync the server writes each message to its file before it acknowledges it
// (as it does anyway; a kill -9 loses nothing the kernel holds) but does not fsync it.
// The caller calls Sync after the acknowledgement and before the write counts
// (eventstore.Options.SyncWrites): Sync returns once an fsync that began after the call
// has finished, and every caller that asked while one was under way shares the next.
// Each fsync covers every stream: whatever was written to any of them before it began
// is on disk when it returns, which keeps the order between streams (a data key before
// the event sealed with it).

// syncer fsyncs the message blocks an embedded server has written in its store.
type syncer struct {
	// root is the server's JetStream directory: <root>/<account>/streams/<stream>/msgs/<n>.blk.
	root string
	// runs: one at a time, each for the callers who asked before it began (Sync).
	runMu   sync.Mutex
	running bool
	next    *syncRun
	// mu guards streams and closed: runs do not overlap, but close comes from elsewhere.
	mu      sync.Mutex
	closed  bool
	streams map[string]*streamFiles
	// listings are the account and stream directories as last read.
	listings map[string]*listing
	// fsync is (*os.File).Sync, or a test's stand-in that counts.
	fsync func(*os.File) error
	// rounds counts the runs, for tests and diagnostics.
	rounds atomic.Uint64
}

// syncRun is one run of syncAll and the callers waiting for it.
type syncRun struct {
	done    chan struct{}
	err     error
	waiters int
}

// streamFiles is what the syncer keeps of one stream: its last message block (writes
// append to it) and how much of it is on disk.
type streamFiles struct {
	msgs string
	// dirInfo is the stream's directory when it was discovered: one deleted and made
	// again is another.
	dirInfo os.FileInfo
	// seen is msgs as last looked at: unchanged, it holds no new block.
	seen dirSeen
	// index is the highest block number seen; last is that block, open, unless it
	// was removed and no newer one has come yet.
	index  uint64
	last   *os.File
	info   os.FileInfo
	synced int64
}

func newSyncer(root string) *syncer {
	return &syncer{root: root, streams: map[string]*streamFiles{}, listings: map[string]*listing{}, fsync: (*os.File).Sync}
}

// Sync returns once every write the server acknowledged before the call is on disk,
// or ctx ends first (the run goes on for the others). A caller who finds a run under
// way waits for the next, which begins when that one ends and serves every caller who
// asked meanwhile: the run under way may have begun before the caller's write.
func (s *syncer) Sync(ctx context.Context) error {
	s.runMu.Lock()
	if s.next == nil {
		s.next = &syncRun{done: make(chan struct{})}
	}
	r := s.next
	r.waiters++
	if !s.running {
		s.running, s.next = true, nil
		go s.run(r)
	}
	s.runMu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run syncs for r, then for the run its callers' successors queued meanwhile, until
// none is waiting.
func (s *syncer) run(r *syncRun) {
	for r != nil {
		s.rounds.Add(1)
		r.err = s.syncAll()
		close(r.done)
		s.runMu.Lock()
		r, s.next = s.next, nil
		s.running = r != nil
		s.runMu.Unlock()
	}
}

// waiting is how many callers wait for the next run (for tests).
func (s *syncer) waiting() int {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.next == nil {
		return 0
	}
	return s.next.waiters
}

// syncAll fsyncs the last message block of every stream that grew since the last run,
// and the whole of a stream it has not seen before (its configuration files and
// directories too: a stream created a moment ago must survive a power cut as well).
func (s *syncer) syncAll() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		// close synced everything after the server stopped acknowledging writes.
		return nil
	}
	accounts, _, err := s.subdirs(s.root)
	if err != nil {
		return err
	}
	for _, acc := range accounts {
		streamsDir := filepath.Join(acc, "streams")
		streams, changed, err := s.subdirs(streamsDir)
		if err != nil {
			return err
		}
		if changed {
			s.forgetGone(streamsDir, streams)
		}
		for _, dir := range streams {
			f := s.streams[dir]
			if f == nil {
				if f, err = s.discover(dir, streamsDir); err != nil {
					return err
				}
				if f != nil {
					s.streams[dir] = f
				}
				continue
			}
			if err := s.syncStream(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// forgetGone drops what the syncer keeps of the streams under streamsDir that are gone,
// or were deleted and made again (a directory of the same name, another one): the
// next run discovers them afresh.
func (s *syncer) forgetGone(streamsDir string, listed []string) {
	for dir, f := range s.streams {
		if filepath.Dir(dir) != streamsDir {
			continue
		}
		info, err := os.Stat(dir)
		if err == nil && slices.Contains(listed, dir) && os.SameFile(info, f.dirInfo) {
			continue
		}
		f.close()
		delete(s.streams, dir)
	}
}

// settleTime is how long after a directory's last change its modification time is
// taken to be settled: a later change gets a later one. File systems stamp times at
// a coarse grain (a clock tick, a few milliseconds); this is well above it.
const settleTime = 100 * time.Millisecond

// dirSeen is a directory, open, with its modification time as last seen and whether
// it had settled then: a directory seen settled whose time is the same has not
// changed since. Looking again is an fstat of the open directory, not a lookup of its
// path.
type dirSeen struct {
	dir     *os.File
	mod     time.Time
	settled bool
}

// look reports whether the directory at path may have changed since it was last seen
// (then it is opened and seen again, and the caller reads it), and whether it exists.
// A directory removed, or replaced by another of the same name, changes its parent,
// whose caller looks again by name (forgetGone).
func (d *dirSeen) look(path string) (changed, exists bool, err error) {
	now := time.Now() // before the stat: a change after it is stamped after now
	if d.dir != nil && d.settled {
		_, mod, err := fstat(d.dir)
		if err == nil && mod.Equal(d.mod) {
			return false, true, nil
		}
	}
	d.close()
	dir, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("group sync: %w", err)
	}
	info, err := dir.Stat()
	if err != nil {
		dir.Close()
		return false, false, fmt.Errorf("group sync: %w", err)
	}
	d.dir, d.mod, d.settled = dir, info.ModTime(), now.Sub(info.ModTime()) > settleTime
	return true, true, nil
}

func (d *dirSeen) close() {
	if d.dir != nil {
		d.dir.Close()
		d.dir = nil
	}
}

// listing is a directory's subdirectories (their paths) as last read.
type listing struct {
	seen  dirSeen
	paths []string
}

// subdirs lists the subdirectories of path, reading it only when it may have changed
// (then changed is true).
func (s *syncer) subdirs(path string) (paths []string, changed bool, err error) {
	l := s.listings[path]
	if l == nil {
		l = &listing{}
		s.listings[path] = l
	}
	changed, exists, err := l.seen.look(path)
	if err != nil || !exists {
		l.seen.close()
		delete(s.listings, path)
		return nil, true, err
	}
	if !changed {
		return l.paths, false, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, true, fmt.Errorf("group sync: %w", err)
	}
	l.paths = l.paths[:0]
	for _, e := range entries {
		if e.IsDir() {
			l.paths = append(l.paths, filepath.Join(path, e.Name()))
		}
	}
	return l.paths, true, nil
}

// discover syncs a stream seen for the first time, all of it, and the directories
// that name it; from then on only its last block is synced.
func (s *syncer) discover(dir, streamsDir string) (*streamFiles, error) {
	dirInfo, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // deleted meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("group sync: %w", err)
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed meanwhile (a block compacted away)
		}
		if err != nil {
			return err
		}
		return s.syncPath(path)
	})
	if err == nil {
		err = s.syncPath(streamsDir)
	}
	if err == nil {
		err = s.syncPath(filepath.Dir(streamsDir))
	}
	if err != nil {
		return nil, fmt.Errorf("group sync: stream %s: %w", filepath.Base(dir), err)
	}
	f := &streamFiles{msgs: filepath.Join(dir, "msgs"), dirInfo: dirInfo}
	if err := s.findLast(f); err != nil {
		return nil, err
	}
	return f, nil
}

// syncStream fsyncs f's last block if it grew, after following the server to a newer
// last block (the old one is synced a last time, and the directory that names the new
// one once). The server writes to its last block only, and numbers a new one after
// the highest it had.
func (s *syncer) syncStream(f *streamFiles) error {
	changed, _, err := f.seen.look(f.msgs)
	if err != nil {
		return err
	}
	if changed {
		if err := s.followBlocks(f); err != nil {
			return err
		}
	}
	if f.last == nil {
		return nil // no block yet: followBlocks finds the first one when it comes
	}
	size, _, err := fstat(f.last)
	if err != nil {
		return fmt.Errorf("group sync: %w", err)
	}
	if size == f.synced {
		return nil
	}
	if err := s.fsync(f.last); err != nil {
		return fmt.Errorf("group sync: %s: %w", f.last.Name(), err)
	}
	f.synced = size
	return nil
}

// followBlocks finds what changed among a stream's blocks: a newer last block (the
// old one is synced a last time, and the directory that names the new one once), the
// last one removed (its messages purged) or rewritten in place (compacted).
func (s *syncer) followBlocks(f *streamFiles) error {
	for {
		if _, err := os.Stat(filepath.Join(f.msgs, blockName(f.index+1))); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				break
			}
			return fmt.Errorf("group sync: %w", err)
		}
		if err := s.closeLast(f); err != nil {
			return err
		}
		f.index++
		if err := s.openLast(f); err != nil {
			return err
		}
	}
	if f.last != nil {
		info, err := os.Stat(filepath.Join(f.msgs, blockName(f.index)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := s.closeLast(f); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("group sync: %w", err)
		case !os.SameFile(info, f.info):
			if err := s.closeLast(f); err != nil {
				return err
			}
			return s.openLast(f)
		default:
			return nil
		}
	}
	// No last block (removed, or none yet; or the stream was deleted and made again,
	// numbering from 1): the highest there is.
	return s.findLast(f)
}

// findLast opens the stream's highest-numbered block, syncing it and its directory. With
// none, the stream keeps the number it had: the server numbers the next block after it.
func (s *syncer) findLast(f *streamFiles) error {
	entries, err := os.ReadDir(f.msgs)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("group sync: %w", err)
	}
	var highest uint64
	for _, e := range entries {
		if n, ok := blockIndex(e.Name()); ok && n > highest {
			highest = n
		}
	}
	if highest == 0 {
		return nil
	}
	f.index = highest
	return s.openLast(f)
}

// openLast opens block f.index as the last one and syncs it and its directory; a block
// removed meanwhile leaves the stream with none until a newer one comes.
func (s *syncer) openLast(f *streamFiles) error {
	path := filepath.Join(f.msgs, blockName(f.index))
	last, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("group sync: %w", err)
	}
	info, err := last.Stat()
	if err == nil {
		err = s.fsync(last)
	}
	if err == nil {
		err = s.syncPath(f.msgs)
	}
	if err != nil {
		last.Close()
		return fmt.Errorf("group sync: %s: %w", path, err)
	}
	f.last, f.info, f.synced = last, info, info.Size()
	return nil
}

// closeLast syncs the last block a final time (writes may have reached it after the
// previous run) and closes it.
func (s *syncer) closeLast(f *streamFiles) error {
	if f.last == nil {
		return nil
	}
	err := s.fsync(f.last)
	f.last.Close()
	f.last, f.info, f.synced = nil, nil, 0
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("group sync: %w", err)
	}
	return nil
}

// close releases the stream's open files.
func (f *streamFiles) close() {
	if f.last != nil {
		f.last.Close()
		f.last = nil
	}
	f.seen.close()
}

// syncPath fsyncs a file or directory by name.
func (s *syncer) syncPath(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return s.fsync(f)
}

// close syncs a last time, once the server has stopped acknowledging writes, and
// releases the files the syncer keeps open; a Sync after it has nothing left to do.
func (s *syncer) close() error {
	err := s.syncAll()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, f := range s.streams {
		f.close()
	}
	for _, l := range s.listings {
		l.seen.close()
	}
	s.streams, s.listings = nil, nil
	return err
}

func blockName(n uint64) string { return strconv.FormatUint(n, 10) + ".blk" }

func blockIndex(name string) (uint64, bool) {
	num, ok := strings.CutSuffix(name, ".blk")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	return n, err == nil
}
