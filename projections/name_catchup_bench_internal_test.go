package projections

import (
	"fmt"
	"testing"
)

// BenchmarkNameIndexCatchUp puts k new secrets, named among the index's, into a loaded
// index of 100,000 (a catch-up after writes no reader saw: advance's putMany), and
// measures the index's side of it (no Postgres, no decryption).
func BenchmarkNameIndexCatchUp(b *testing.B) {
	const n = 100_000
	for _, k := range []int{16, 256, 2048} {
		b.Run(fmt.Sprint("k=", k), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				on := &orgNames{orgID: "acme", views: &gridViews{}}
				on.reset()
				on.bulk = true
				for i := 0; i < n; i++ {
					e, text := benchEntry(on, 2*i)
					if err := on.put(e, text); err != nil {
						b.Fatal(err)
					}
				}
				on.endBulk()
				b.StartTimer()
				err := on.putMany(k, func(i int) error {
					e, text := benchEntry(on, 2*(i*(n/k))+1)
					return on.put(e, text)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
