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
// holding q's two rarest trigrams, so its cost is theirs, not the organization's. When
// even the rarest is dense, so are the matches, and the ordered scan finds a page soon.
func (on *orgNames) searchPage(bit uint8, q, after string, limit int) ([]uint32, bool) {
	// The two rarest trigrams' postings; common ones are never among them.
	var rarest, second []uint32
	for i := 0; i+3 <= len(q); i++ {
		g := uint32(q[i])<<16 | uint32(q[i+1])<<8 | uint32(q[i+2])
		if on.grams.common[g] {
			continue
		}
		l := on.grams.lists[g]
		switch {
		case len(l) == 0:
			return []uint32{}, false
		case rarest == nil || len(l) < len(rarest):
			rarest, second = l, rarest
		case (second == nil || len(l) < len(second)) && &l[0] != &rarest[0]:
			second = l
		}
	}
	if rarest == nil || denseTrigram(len(rarest), len(on.sorted)) {
		return on.scanPage(bit, q, after, limit)
	}
	cand := rarest
	if second != nil {
		cand = intersect(rarest, second)
	}
	text := on.text()
	out := make([]uint32, 0, min(len(cand), 2*limit))
	on.examined += int64(len(cand))
	for _, key := range cand {
		e := on.keys.at(key)
		if e.dead || (bit != 0 && e.set&bit == 0) {
			continue
		}
		if name := e.str(text, textName); (after != "" && name <= after) || !strings.Contains(name, q) {
			continue
		}
		out = append(out, key)
	}
	slices.SortFunc(out, func(a, b uint32) int {
		ea, eb := on.keys.at(a), on.keys.at(b)
		if c := strings.Compare(ea.str(text, textName), eb.str(text, textName)); c != 0 {
			return c
		}
		return bytes.Compare(ea.id[:], eb.id[:])
	})
	if len(out) > limit {
		return out[:limit], true
	}
	if out == nil {
		out = []uint32{}
	}
	return out, false
}

// intersect is the keys in both ascending lists.
func intersect(a, b []uint32) []uint32 {
	out := make([]uint32, 0, min(len(a), len(b)))
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
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
