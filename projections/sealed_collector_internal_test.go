package projections

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// A values fetch's rows are gathered with their text written once: the bytes it
// allocates stay near the text's own size and the rows' (a byte slice grown row by
// row and then copied into a string allocated some seven times the text). Not
// parallel: it reads the process's allocation counters.
func TestSealedCollectorAllocatesItsTextOnce(t *testing.T) {
	const rows = 100_000
	ids := make([][]byte, rows)
	sealed := []byte("v2." + strings.Repeat("A", 96))
	for i := range ids {
		ids[i] = fmt.Appendf(nil, "00000000-0000-4000-8000-%012d", i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var c sealedCollector
	for i, id := range ids {
		c.add(id, sealed, i)
	}
	runtime.ReadMemStats(&after)
	text := rows * (36 + len(sealed))
	rowBytes := rows * 56 // a StoredValue; the slice of them doubles as it grows
	allocated := int(after.TotalAlloc - before.TotalAlloc)
	if limit := text + 4*rowBytes + 2*sealedChunk; allocated > limit {
		t.Errorf("gathering %d rows (%d bytes of text, %d of rows) allocated %d bytes, want at most %d",
			rows, text, rowBytes, allocated, limit)
	}
	if len(c.out) != rows {
		t.Fatalf("%d rows gathered, want %d", len(c.out), rows)
	}
	for _, i := range []int{0, 1, 7_000, rows - 1} {
		if got := c.out[i]; got.SecretID != string(ids[i]) || got.Sealed != string(sealed) || got.Version != i {
			t.Fatalf("row %d: %+v", i, got)
		}
	}
}
