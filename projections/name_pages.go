package projections

import (
	"bytes"
	"slices"
	"strings"

	"github.com/keyledger/keyledger/domain"
)

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
// holding q's two rarest trigrams, so its cost is theirs, not the organization's.
func (on *orgNames) searchPage(bit uint8, q, after string, limit int) ([]uint32, bool) {
	// The two rarest trigrams' postings.
	var rarest, second []uint32
	for i := 0; i+3 <= len(q); i++ {
		l := on.grams[uint32(q[i])<<16|uint32(q[i+1])<<8|uint32(q[i+2])]
		switch {
		case len(l) == 0:
			return []uint32{}, false
		case rarest == nil || len(l) < len(rarest):
			rarest, second = l, rarest
		case (second == nil || len(l) < len(second)) && &l[0] != &rarest[0]:
			second = l
		}
	}
	if len(rarest) > 64 && len(rarest) > len(on.sorted)/8 {
		// Common letters: matches are dense, so the ordered scan finds a page soon,
		// where sorting every candidate would cost the organization.
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
