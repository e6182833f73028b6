package projections

import (
	"fmt"
	"runtime"
	"testing"
	"unsafe"
)

// What picking a page of 100 rows allocates does not grow with the organization: the
// same few objects and bytes, less than its rows' copies (released pages' rows are
// reused), for a first page, a deep page (cursor) and a q= search, in an organization
// of 1,000 secrets and of 50,000. Every byte a page allocates is garbage the collector
// must keep up with: at 100,000 secrets the rows were three quarters of what the
// grid's phases allocated, and collections a fifth of the server's CPU.
func TestGridPageAllocationsDoNotGrowWithTheOrganization(t *testing.T) {
	type cost struct{ allocs, bytes float64 }
	measure := func(n int) map[string]cost {
		ix := &nameIndex{}
		on := ix.org("acme")
		on.reset()
		on.bulk = true
		for i := range n {
			e, text := benchEntry(on, i)
			if err := on.put(e, text); err != nil {
				t.Fatal(err)
			}
		}
		on.endBulk()
		db := &Secrets{names: ix}
		out := map[string]cost{}
		for _, p := range []struct{ name, q, after string }{
			{"first", "", ""},
			{"deep", "", fmt.Sprintf("BENCH_SEED_%07d", n/2)},
			{"q=", fmt.Sprintf("SEED_%05d", n/200), ""},
		} {
			// As the grid's handler does: the page, then its rows released.
			page := func() int {
				rows, _ := db.pageRows(on, "", p.q, p.after, 100)
				pg := SecretPage{Rows: rows, pool: &db.names.rows}
				pg.Release()
				return len(rows)
			}
			if got := page(); got != 100 {
				t.Fatalf("%s page of an org of %d: %d rows", p.name, n, got)
			}
			allocs := testing.AllocsPerRun(50, func() { page() })
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 200 {
				page()
			}
			runtime.ReadMemStats(&after)
			out[p.name] = cost{allocs, float64(after.TotalAlloc-before.TotalAlloc) / 200}
		}
		return out
	}
	small, large := measure(1_000), measure(50_000)
	rows := float64(100 * unsafe.Sizeof(GridRow{}))
	for name, s := range small {
		l := large[name]
		t.Logf("%s page: %v allocations, %v bytes in an org of 1,000; %v, %v in one of 50,000 (its rows are %v bytes)", name, s.allocs, s.bytes, l.allocs, l.bytes, rows)
		if l.allocs > 4 || s.allocs > 4 {
			t.Errorf("%s page: %v allocations in an org of 1,000, %v in one of 50,000; want at most 4 in both", name, s.allocs, l.allocs)
		}
		// Released rows are reused: a page allocates its keys, not its rows. Not
		// every time: a collection empties the pool, and under the race detector
		// sync.Pool drops a quarter of what is put back.
		if l.bytes > rows/2 || s.bytes > rows/2 {
			t.Errorf("%s page: %v bytes in an org of 1,000, %v in one of 50,000; want at most half its rows' %v", name, s.bytes, l.bytes, rows)
		}
	}
}
