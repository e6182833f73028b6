package projections

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// benchEntry is the index entry of the bench's seeded secret i: a name like theirs, no
// description, one owner, a value (and so a mask) in every environment.
func benchEntry(on *orgNames, i int) (nameEntry, [textFields]string) {
	var id [16]byte
	copy(id[:], fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15))
	now := time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond).UnixNano()
	e := nameEntry{id: id, owner: on.owner(UserRef{ID: "0b5e7c1a-6d0e-4a34-9a8e-3f1c2b6d7e80", Email: "bench@example.com", Name: "Bench"}),
		created: now, updated: now, version: 1, present: 7, set: 7, envVersion: [3]int32{1, 1, 1}, envUpdated: [3]int64{now, now, now}}
	mask := fmt.Sprintf("bench_%02x***%04x", i%256, i%65536)
	return e, [textFields]string{fmt.Sprintf("BENCH_SEED_%07d", i), "", mask, mask, mask}
}

// The name index of an organization costs a bounded number of bytes per secret, and
// the garbage collector has next to nothing of it to scan: at 100,000 secrets an index
// of one object per entry took 40-55 MB (about 500 bytes a secret in half a dozen
// objects) that every collection walked. KL_INDEX_ENTRIES sets the size measured
// (default 20,000), for the report at 100,000.
func TestNameIndexBytesPerSecret(t *testing.T) {
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("KL_INDEX_ENTRIES")); err == nil && v > 0 {
		n = v
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	on := &orgNames{orgID: "acme", views: &gridViews{}}
	on.reset()
	on.bulk = true
	for i := range n {
		e, text := benchEntry(on, i)
		if err := on.put(e, text); err != nil {
			t.Fatal(err)
		}
	}
	on.endBulk()
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	// Objects with pointers: what a collection has to scan (the id map and the postings'
	// headers are in it, the entries and the arena are not).
	objects := int64(after.HeapObjects) - int64(before.HeapObjects)
	t.Logf("%d secrets: %.1f MB of heap, %d bytes a secret, %d objects", n, float64(heap)/1e6, heap/int64(n), objects)
	if perSecret := heap / int64(n); perSecret > 300 {
		t.Errorf("the index takes %d bytes a secret, want at most 300", perSecret)
	}
	if objects > int64(n)/20 {
		t.Errorf("the index is %d objects for %d secrets, want a few per thousand", objects, n)
	}
	runtime.KeepAlive(on)
}
