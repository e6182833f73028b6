package projections

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// A q= page examines about as many entries as it shows, not as many as hold q's
// rarest trigram: the keys are numbered in name order (on load and compaction), so a
// page reads its candidates in order and stops after its rows, and a cursor's page
// starts at the cursor's place. In an organization of 50,000 benchmark names, "012"
// is in some 1,300 names and "SEED_0012" in 1,000 of them; sorting every candidate
// examined them all, on the first page and on every page after. Names added after the
// load (keys out of name order) are merged into their places.
func TestSearchPageExaminesAboutItsRows(t *testing.T) {
	const n, limit, q = 50_000, 100, "SEED_0012"
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
	// Added after the load, each right after a loaded name that matches.
	for i := range 60 {
		e, text := benchEntry(on, n+i)
		text[textName] = fmt.Sprintf("BENCH_SEED_%07d_NEW", 12_000+i*17)
		if err := on.put(e, text); err != nil {
			t.Fatal(err)
		}
	}
	if on.ordered == on.keys.n {
		t.Fatal("the names added after the load are numbered in order: the test must have keys out of order")
	}
	var want []string
	for _, key := range on.sorted {
		if name := on.name(key); strings.Contains(name, q) {
			want = append(want, name)
		}
	}
	db := &Secrets{names: ix}
	var got []string
	after := ""
	for page := 0; ; page++ {
		before := on.examined
		rows, more := db.pageRows(on, "", q, after, limit)
		examined := on.examined - before
		for _, r := range rows {
			got = append(got, r.Name())
		}
		// The rows, the one after them (whether more follow), the names added after
		// the load (all checked, then merged) and the names holding the trigrams that
		// come before the first match: well under the 1,000 matches.
		if examined > 3*limit {
			t.Errorf("page %d (after %q) examined %d entries for %d rows; want at most %d", page, after, examined, len(rows), 3*limit)
		}
		if !more {
			break
		}
		after = rows[len(rows)-1].Name()
	}
	if !slices.Equal(got, want) {
		t.Fatalf("q=%s: %d names, want %d\n got %v\nwant %v", q, len(got), len(want), got, want)
	}
}

// Names added after a load are numbered in name order again once they are more than
// half of the live ones (and a few thousand): a q= page sorts only their matches, and
// these must not grow with the organization. The pages stay exactly a scan's.
func TestAddedNamesAreNumberedInOrderAgain(t *testing.T) {
	const loaded, added, q = 5_000, 6_000, "SEED_001"
	ix := &nameIndex{}
	on := ix.org("acme")
	on.reset()
	on.bulk = true
	for i := range loaded {
		e, text := benchEntry(on, 2*i)
		if err := on.put(e, text); err != nil {
			t.Fatal(err)
		}
	}
	on.endBulk()
	renumbered := false
	for i := range added {
		e, text := benchEntry(on, 2*i+1)
		if err := on.put(e, text); err != nil {
			t.Fatal(err)
		}
		if unordered := on.keys.n - on.ordered; unordered == 0 {
			renumbered = true
		} else if int(unordered) > 4096+len(on.sorted)/2 {
			t.Fatalf("after %d names added, %d of %d keys are out of name order", i+1, unordered, on.keys.n)
		}
	}
	if !renumbered {
		t.Fatal("the names added were never numbered in order")
	}
	var want, got []string
	for _, key := range on.sorted {
		if name := on.name(key); strings.Contains(name, q) {
			want = append(want, name)
		}
	}
	db := &Secrets{names: ix}
	for after := ""; ; {
		rows, more := db.pageRows(on, "", q, after, 100)
		for _, r := range rows {
			got = append(got, r.Name())
		}
		if !more {
			break
		}
		after = rows[len(rows)-1].Name()
	}
	if !slices.Equal(got, want) {
		t.Fatalf("q=%s: %d names, want %d", q, len(got), len(want))
	}
}

// Many names arriving at once in an index already loaded (made before a bulk import,
// as the benchmark's is made before its seeding) go in as a load's: numbered in name
// order, so that a q= page has no candidates to sort; pages stay exactly a scan's.
func TestManyNamesCaughtUpAreNumberedInOrder(t *testing.T) {
	const loaded, added, q = 10, 3_000, "SEED_0001"
	ix := &nameIndex{}
	on := ix.org("acme")
	on.reset()
	on.bulk = true
	for i := range loaded {
		e, text := benchEntry(on, i*300)
		if err := on.put(e, text); err != nil {
			t.Fatal(err)
		}
	}
	on.endBulk()
	err := on.putMany(added, func(i int) error {
		e, text := benchEntry(on, added-i)
		return on.put(e, text)
	})
	if err != nil {
		t.Fatal(err)
	}
	if on.ordered != on.keys.n || len(on.sorted) != int(on.keys.n) {
		t.Fatalf("%d of %d keys in name order after %d names caught up, %d live", on.ordered, on.keys.n, added, len(on.sorted))
	}
	var want, got []string
	for _, key := range on.sorted {
		if name := on.name(key); strings.Contains(name, q) {
			want = append(want, name)
		}
	}
	if !slices.IsSorted(want) || len(want) < 1000 {
		t.Fatalf("the order is not sorted or lacks names: %d", len(want))
	}
	db := &Secrets{names: ix}
	for after := ""; ; {
		rows, more := db.pageRows(on, "", q, after, 100)
		for _, r := range rows {
			got = append(got, r.Name())
		}
		if !more {
			break
		}
		after = rows[len(rows)-1].Name()
	}
	if !slices.Equal(got, want) {
		t.Fatalf("q=%s: %d names, want %d", q, len(got), len(want))
	}
}

// gallop finds what a binary search of the list from i finds: the first element at
// least key, for keys before, between, on and after the elements, from every start.
func TestGallopFindsTheFirstAtLeastKey(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(21, 22))
	for range 300 {
		var l []uint32
		for k := uint32(rnd.IntN(4)); len(l) < rnd.IntN(200); k += 1 + uint32(rnd.IntN(40)) {
			l = append(l, k)
		}
		for i := 0; i <= len(l); i++ {
			for range 20 {
				key := uint32(rnd.IntN(len(l)*41 + 10))
				j, _ := slices.BinarySearch(l[i:], key)
				if got := gallop(l, i, key); got != i+j {
					t.Fatalf("gallop(%v, %d, %d) = %d, want %d", l, i, key, got, i+j)
				}
			}
		}
	}
}
