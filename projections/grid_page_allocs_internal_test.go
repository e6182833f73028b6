package projections

import (
	"fmt"
	"runtime"
	"testing"
	"unsafe"
)

// What picking a page of 100 rows allocates does not grow with the organization: the
// same few objects, and about the rows' copies in bytes, for a first page, a deep page
// (cursor) and a q= search, in an organization of 1,000 secrets and of 50,000. Every
// byte a page allocates is garbage the collector must keep up with, and at 100,000
// secrets its pauses were the grid's tail latency.
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
			var rows []GridRow
			allocs := testing.AllocsPerRun(50, func() {
				rows, _ = db.pageRows(on, "", p.q, p.after, 100)
			})
			if len(rows) != 100 {
				t.Fatalf("%s page of an org of %d: %d rows", p.name, n, len(rows))
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 50 {
				rows, _ = db.pageRows(on, "", p.q, p.after, 100)
			}
			runtime.ReadMemStats(&after)
			out[p.name] = cost{allocs, float64(after.TotalAlloc-before.TotalAlloc) / 50}
		}
		return out
	}
	small, large := measure(1_000), measure(50_000)
	rows := float64(100 * unsafe.Sizeof(GridRow{}))
	for name, s := range small {
		l := large[name]
		t.Logf("%s page: %v allocations, %v bytes in an org of 1,000; %v, %v in one of 50,000 (rows %v bytes)", name, s.allocs, s.bytes, l.allocs, l.bytes, rows)
		if l.allocs > 4 || s.allocs > 4 {
			t.Errorf("%s page: %v allocations in an org of 1,000, %v in one of 50,000; want at most 4 in both", name, s.allocs, l.allocs)
		}
		if l.bytes > rows+4096 || s.bytes > rows+4096 {
			t.Errorf("%s page: %v bytes in an org of 1,000, %v in one of 50,000; want at most the rows' %v and 4 KB", name, s.bytes, l.bytes, rows)
		}
	}
}
