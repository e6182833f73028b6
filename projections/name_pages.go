package projections

import (
	"bytes"
	"slices"
	"strings"

	"github.com/keyledger/keyledger/domain"
)

// postings lists the keys of an organization's entries by the trigrams (three bytes)
// of their names, ascending, so that a q= search of three bytes or more reads the
// entries that can match instead of scanning the organization. A removed entry stays
// listed (its key unused) until compaction; an entry changed in place keeps its name.
//
// A trigram in more than half of the names (and more than 64) is common: its list is
// not kept. A search would scan the names in order rather than read it as its rarest
// (see searchPage), and as its second rarest it would rule out little. In names that
// share a prefix (BENCH_SEED_0000001 …) most trigrams are in every name, and their
// lists were most of the postings' memory. Which are common is decided when the lists
// are built, and they are built again each time the organization doubles.
type postings struct {
	lists  map[uint32][]uint32
	common map[uint32]bool
	// builtAt is the number of keys when the lists were built.
	builtAt uint32
}

// add lists key under the trigrams of name (keys are added in ascending order).
func (p *postings) add(key uint32, name string) {
	if p.lists == nil {
		p.lists = map[uint32][]uint32{}
	}
	for _, g := range trigrams(name) {
		if !p.common[g] {
			p.lists[g] = append(p.lists[g], key)
		}
	}
}

// buildGrams builds on's postings from its live entries: the common trigrams' lists
// dropped, the others packed into one array.
func (on *orgNames) buildGrams() {
	p := postings{lists: map[uint32][]uint32{}, common: map[uint32]bool{}, builtAt: on.keys.n}
	text := on.text()
	for key := range on.keys.n {
		if e := on.keys.at(key); !e.dead {
			p.add(key, e.str(text, textName))
		}
	}
	total := 0
	for g, l := range p.lists {
		if commonTrigram(len(l), len(on.sorted)) {
			delete(p.lists, g)
			p.common[g] = true
			continue
		}
		total += len(l)
	}
	packed := make([]uint32, 0, total)
	for g, l := range p.lists {
		start := len(packed)
		packed = append(packed, l...)
		// Capacity capped: a later append to one list copies that list, not its neighbours.
		p.lists[g] = packed[start:len(packed):len(packed)]
	}
	on.grams = p
}

// commonTrigram is whether a trigram of n of an organization's live names is too
// common to keep a list of.
func commonTrigram(n, live int) bool { return n > 64 && n > live/2 }

// denseTrigram is whether a trigram of n of an organization's live names is too common
// to search by: the ordered scan finds a page of its matches soon, where sorting every
// candidate would cost the organization.
func denseTrigram(n, live int) bool { return n > 64 && n > live/8 }

// trigrams are the distinct three-byte windows of s, each packed in a uint32.
func trigrams(s string) []uint32 {
	if len(s) < 3 {
		return nil
	}
	out := make([]uint32, 0, len(s)-2)
	for i := 0; i+3 <= len(s); i++ {
		g := uint32(s[i])<<16 | uint32(s[i+1])<<8 | uint32(s[i+2])
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// page picks the keys of one grid page: names after the cursor's, in order, kept by
// the environment and q filters, at most limit of them, and whether more follow.
func (on *orgNames) page(env domain.Environment, q, after string, limit int) ([]uint32, bool) {
	bit := envBits[env]
	if len(q) >= 3 {
		return on.searchPage(bit, q, after, limit)
	}
	return on.scanPage(bit, q, after, limit)
}

// searchPage is page for a q of three bytes or more: the candidates are the entries
// holding every trigram of q that keeps a list, so its cost is theirs, not the
// organization's. When even the rarest is dense, so are the matches, and the ordered
// scan finds a page soon.
//
// The rarest list is read in key order, each key checked against the other lists
// (in memory, ascending: a galloping search) before its entry is read. Below
// on.ordered, key order is name order: those matches come out sorted, and the page
// stops once it has one row more than it shows (whether more follow). Only the
// matches among the keys added since the last renumbering are sorted, and merged in.
// Sorting every candidate (the rarest two's intersection, ~140 at 100,000 secrets in
// the benchmark's searches), each compared by name through its entry, and checking
// each by name was most of a q= page's time in the index.
func (on *orgNames) searchPage(bit uint8, q, after string, limit int) ([]uint32, bool) {
	var shortest [maxQueryLists][]uint32
	lists, none := on.queryLists(q, shortest[:0])
	if none {
		return []uint32{}, false
	}
	if len(lists) == 0 || denseTrigram(len(lists[0]), len(on.sorted)) {
		return on.scanPage(bit, q, after, limit)
	}
	rarest, others := lists[0], lists[1:]
	text := on.text()
	var positions [maxQueryLists]int
	at := positions[:len(others)]
	// match is whether the entry under key is a row of the page (the keys come in
	// ascending order within each of the two runs below, at reset between them).
	match := func(key uint32) bool {
		for i, l := range others {
			j := gallop(l, at[i], key)
			at[i] = j
			if j == len(l) || l[j] != key {
				return false
			}
		}
		on.examined++
		e := on.keys.at(key)
		if e.dead || (bit != 0 && e.set&bit == 0) {
			return false
		}
		name := e.str(text, textName)
		return (after == "" || name > after) && strings.Contains(name, q)
	}
	// The keys added since the order was last numbered: their matches, sorted.
	split, _ := slices.BinarySearch(rarest, on.ordered)
	var tail []uint32
	for _, key := range rarest[split:] {
		if match(key) {
			tail = append(tail, key)
		}
	}
	if len(tail) > 1 {
		slices.SortFunc(tail, func(a, b uint32) int { return on.compareKeys(text, a, b) })
	}
	// The numbered keys, in name order from the cursor's place, merged with the tail.
	clear(at)
	from := 0
	if after != "" {
		from, _ = slices.BinarySearch(rarest[:split], on.firstOrderedAfter(text, after))
	}
	out := make([]uint32, 0, min(limit+1, len(rarest)-from))
	t := 0
	for _, key := range rarest[from:split] {
		if !match(key) {
			continue
		}
		for ; t < len(tail) && on.compareKeys(text, tail[t], key) < 0; t++ {
			if out = append(out, tail[t]); len(out) > limit {
				return out[:limit], true
			}
		}
		if out = append(out, key); len(out) > limit {
			return out[:limit], true
		}
	}
	for ; t < len(tail); t++ {
		if out = append(out, tail[t]); len(out) > limit {
			return out[:limit], true
		}
	}
	return out, false
}

// maxQueryLists bounds the postings a q= page reads: the shortest few rule out
// nearly every key that the rest would.
const maxQueryLists = 4

// queryLists appends to lists (empty, of capacity maxQueryLists) the shortest postings
// of q's trigrams that keep a list (common ones do not), each once, shortest first;
// none is set when one of them is in no name (no name holds q).
func (on *orgNames) queryLists(q string, lists [][]uint32) (_ [][]uint32, none bool) {
	for i := 0; i+3 <= len(q); i++ {
		g := uint32(q[i])<<16 | uint32(q[i+1])<<8 | uint32(q[i+2])
		if on.grams.common[g] {
			continue
		}
		l := on.grams.lists[g]
		if len(l) == 0 {
			return nil, true
		}
		if slices.ContainsFunc(lists, func(m []uint32) bool { return &m[0] == &l[0] }) {
			continue
		}
		// Insertion into the shortest so far, the longest dropped when full.
		j := len(lists)
		for j > 0 && len(lists[j-1]) > len(l) {
			j--
		}
		switch {
		case len(lists) < cap(lists):
			lists = slices.Insert(lists, j, l)
		case j < len(lists):
			copy(lists[j+1:], lists[j:len(lists)-1])
			lists[j] = l
		}
	}
	return lists, false
}

// gallop is the index of the first element of the ascending list l, from i on, that is
// at least key (len(l) if none): steps doubling from i, then a binary search of the
// last step, so that a short list's keys cost a long list O(log gap) each.
func gallop(l []uint32, i int, key uint32) int {
	if i >= len(l) || l[i] >= key {
		return i
	}
	lo, step := i, 1
	for lo+step < len(l) && l[lo+step] < key {
		lo += step
		step *= 2
	}
	// The first at least key is after lo and at most at lo+step: a binary search
	// there, written out (slices.BinarySearch, a call per key, was half of gallop's
	// time in a q= page's profile).
	lo, hi := lo+1, min(lo+step, len(l))
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l[m] < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// compareKeys orders the entries under keys a and b by name, then id (sorted's order).
func (on *orgNames) compareKeys(text string, a, b uint32) int {
	ea, eb := on.keys.at(a), on.keys.at(b)
	if c := strings.Compare(ea.str(text, textName), eb.str(text, textName)); c != 0 {
		return c
	}
	return bytes.Compare(ea.id[:], eb.id[:])
}

// firstOrderedAfter is the smallest key below on.ordered whose live entry's name is
// after the cursor's (on.ordered when there is none): the numbered keys below it hold
// the names up to the cursor's. The order's first key past the cursor that is below
// on.ordered is that key (numbered keys are in the order's order); the keys added
// since, which it passes over, are at most a quarter of the order (see put).
func (on *orgNames) firstOrderedAfter(text, after string) uint32 {
	start, _ := slices.BinarySearchFunc(on.sorted, after, func(key uint32, n string) int {
		if on.keys.at(key).str(text, textName) <= n {
			return -1
		}
		return 1
	})
	for _, key := range on.sorted[start:] {
		if key < on.ordered {
			return key
		}
	}
	return on.ordered
}

// scanPage is page by a scan in name order from the cursor.
func (on *orgNames) scanPage(bit uint8, q, after string, limit int) ([]uint32, bool) {
	text := on.text()
	start := 0
	if after != "" {
		start, _ = slices.BinarySearchFunc(on.sorted, after, func(key uint32, n string) int {
			if on.keys.at(key).str(text, textName) <= n {
				return -1
			}
			return 1
		})
	}
	out := make([]uint32, 0, min(limit, len(on.sorted)))
	for _, key := range on.sorted[start:] {
		on.examined++
		e := on.keys.at(key)
		if bit != 0 && e.set&bit == 0 {
			continue
		}
		if q != "" && !strings.Contains(e.str(text, textName), q) {
			continue
		}
		if len(out) == limit {
			return out, true
		}
		out = append(out, key)
	}
	return out, false
}
