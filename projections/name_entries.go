package projections

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
)

// nameEntry is one secret's grid row as the index holds it: fixed-size and without a
// pointer, its strings in the organization's text arena. Times are Unix nanoseconds;
// per environment (gridEnvs' order) bit i of present says the read models have a row,
// bit i of set that a value is set (the env filter).
type nameEntry struct {
	id               [16]byte
	created, updated int64
	envUpdated       [3]int64
	// text is where the entry's strings start in the arena, ends where each of them
	// ends (name, description, the three masks: see textFields), from text.
	text       uint32
	ends       [textFields]uint32
	owner      uint32 // in orgNames.owners
	stamp      uint32 // which put made the entry, to tell a view of it from a stale one
	version    int32
	envVersion [3]int32
	present    uint8
	set        uint8
	dead       bool
}

// The strings of an entry, in the arena in this order.
const (
	textName = iota
	textDescription
	textMask   // three: gridEnvs' order
	textFields = textMask + 3
)

// str is the entry's string i, in arena (the text the entry was read with).
func (e *nameEntry) str(arena string, i int) string {
	start := e.text
	if i > 0 {
		start += e.ends[i-1]
	}
	return arena[start : e.text+e.ends[i]]
}

// textLen is the bytes the entry takes in the arena.
func (e *nameEntry) textLen() int { return int(e.ends[textFields-1]) }

// version32 is a version as an entry holds it (no secret has 2^31 versions).
func version32(v int) (int32, error) {
	if v < 0 || v > math.MaxInt32 {
		return 0, fmt.Errorf("name index: version %d out of range", v)
	}
	return int32(v), nil
}

// entries stores an organization's entries by key, in chunks: no chunk is copied as
// the organization grows (a slice of 100,000 entries doubling would leave up to 11 MB
// of copies behind), and each chunk is one object the garbage collector does not scan.
// A key is an entry's for the secret's life in the index; compaction renumbers them.
type entries struct {
	chunks []*[chunkLen]nameEntry
	// slots holds each key's view (see gridViews), in chunks of the same size.
	slots []*viewChunk
	n     uint32
}

const (
	chunkBits = 10
	chunkLen  = 1 << chunkBits
)

// viewChunk is where the views of chunkLen keys are kept.
type viewChunk [chunkLen]atomic.Pointer[keptView]

func (s *entries) at(key uint32) *nameEntry {
	return &s.chunks[key>>chunkBits][key&(chunkLen-1)]
}

// add stores e under a new key.
func (s *entries) add(e nameEntry) uint32 {
	key := s.n
	if int(key>>chunkBits) == len(s.chunks) {
		s.chunks = append(s.chunks, new([chunkLen]nameEntry))
		s.slots = append(s.slots, new(viewChunk))
	}
	s.n++
	*s.at(key) = e
	return key
}

// slot is where key's view is kept, in slots (a page's copy of them).
func slot(slots []*viewChunk, key uint32) *atomic.Pointer[keptView] {
	return &slots[key>>chunkBits][key&(chunkLen-1)]
}

// reset empties on for a full load.
func (on *orgNames) reset() {
	if on.keys.n > 0 {
		on.views.dropOrg(on)
	}
	on.keys, on.byID, on.sorted, on.loaded, on.ordered = entries{}, idTable{}, nil, false, 0
	on.grams, on.dead, on.snap = postings{}, 0, nil
	on.arena, on.deadText = newArena(0), 0
	on.owners, on.ownerKeys = nil, map[string]uint32{}
}

// owner interns a row's owner.
func (on *orgNames) owner(u UserRef) uint32 {
	if i, ok := on.ownerKeys[u.ID]; ok {
		return i
	}
	i := uint32(len(on.owners))
	// Appended, never changed: pages read owners without the lock (see pageSnap).
	on.owners = append(on.owners, u)
	on.ownerKeys[u.ID] = i
	return i
}

// newArena is an empty text arena of capacity n. Strings are appended to it and never
// changed, so that a page may read them without the lock: a substring handed out
// stays valid when the builder grows (into a new array) or is replaced (compaction).
func newArena(n int) *strings.Builder {
	var b strings.Builder
	b.Grow(n)
	return &b
}

// text is the arena as a string: the entries' strings are substrings of it.
func (on *orgNames) text() string { return on.arena.String() }

// name is the name of the entry under key.
func (on *orgNames) name(key uint32) string { return on.keys.at(key).str(on.text(), textName) }

// put makes e, with its strings text, the entry of its secret: in place when the
// secret is there under the same name (its place in the order and its trigrams stay),
// else under a new key.
func (on *orgNames) put(e nameEntry, text [textFields]string) error {
	on.snap = nil
	if key, ok := on.byID.get(&on.keys, e.id); ok {
		old := on.keys.at(key)
		if old.str(on.text(), textName) == text[textName] {
			if err := on.appendText(&e, text); err != nil {
				return err
			}
			on.deadText += old.textLen()
			// A page that read the old entry may still keep a view of it: its stamp
			// tells it from the new one's (see gridViews.get).
			on.views.drop(slot(on.keys.slots, key))
			*old = e
			on.compactText()
			return nil
		}
		on.remove(e.id)
	}
	if err := on.appendText(&e, text); err != nil {
		return err
	}
	key := on.keys.add(e)
	on.byID.set(&on.keys, e.id, key)
	name := text[textName]
	switch {
	case on.bulk:
		// The order is sorted and the postings are built once, at the end.
		on.sorted = append(on.sorted, key)
		return nil
	case on.merging:
		// Merged into the order, and put in the postings, at the end (endMerge).
		on.pending = append(on.pending, key)
		return nil
	}
	i, _ := on.search(name, e.id)
	on.sorted = slices.Insert(on.sorted, i, key)
	if !on.regroup() {
		on.grams.add(key, name)
	}
	on.compactText()
	return nil
}

// regroup numbers the keys in name order again, or builds the postings again, when
// the keys added since the last time call for it, and says whether it did; else the
// caller puts the new keys in the postings.
func (on *orgNames) regroup() bool {
	switch unordered := on.keys.n - on.ordered; {
	case unordered >= 4096 && int(unordered) > len(on.sorted)/2:
		// Numbered in name order again (the postings built again with it), so that
		// a q= page has few candidates to sort (see searchPage): the keys added since
		// are at most about a third. Not more often: a compaction holds the
		// organization's pages some 50-100 ms at 100,000 secrets (two thirds of it
		// the postings), once per 50,000 creates there.
		on.compact()
	case on.keys.n >= 2*on.grams.builtAt && on.keys.n >= 1024:
		// Which trigrams are common changes as the organization grows.
		on.buildGrams()
	default:
		return false
	}
	return true
}

// endMerge ends a catch-up's merge (see putMany): the new keys, sorted by name, go
// into the order in one pass from its end, each block of the order moved once (where
// one by one, each new key moved everything after its place), and into the postings
// in key order, as put does one by one. Deletions held back meanwhile (see remove)
// compact the index now.
func (on *orgNames) endMerge() {
	on.merging = false
	added := on.pending
	on.pending = nil
	if len(added) > 0 {
		text := on.text()
		byName := slices.Clone(added)
		slices.SortFunc(byName, func(a, b uint32) int { return on.compareKeys(text, a, b) })
		n, m := len(on.sorted), len(byName)
		on.sorted = slices.Grow(on.sorted, m)[:n+m]
		// From the last new key down: the old keys after its place (those not yet
		// moved) go up by the new keys not yet placed, and it goes right before them.
		hi := n
		for j := m - 1; j >= 0; j-- {
			key := byName[j]
			pos, _ := slices.BinarySearchFunc(on.sorted[:hi], key, func(a, b uint32) int { return on.compareKeys(text, a, b) })
			copy(on.sorted[pos+j+1:hi+j+1], on.sorted[pos:hi])
			on.sorted[pos+j] = key
			hi = pos
		}
		if !on.regroup() {
			for _, key := range added {
				on.grams.add(key, on.keys.at(key).str(text, textName))
			}
		}
	}
	on.compactDead()
	on.compactText()
}

// appendText puts e's strings into the arena, and stamps e as a new entry.
func (on *orgNames) appendText(e *nameEntry, text [textFields]string) error {
	start, size := on.arena.Len(), 0
	for i, s := range text {
		size += len(s)
		e.ends[i] = uint32(size)
	}
	if start+size > math.MaxUint32 {
		return fmt.Errorf("name index: organization %s holds more than 4 GiB of names, descriptions and masks", on.orgID)
	}
	e.text = uint32(start)
	on.stamps++
	e.stamp = on.stamps
	for _, s := range text {
		on.arena.WriteString(s)
	}
	return nil
}

// compactText copies the live strings into a new arena once most of it is dead (the
// strings of changed and removed entries).
func (on *orgNames) compactText() {
	if on.deadText < 1<<20 || on.deadText < on.arena.Len()/2 {
		return
	}
	old := on.text()
	arena := newArena(on.arena.Len() - on.deadText)
	for key := range on.keys.n {
		e := on.keys.at(key)
		if e.dead {
			e.text, e.ends = 0, [textFields]uint32{}
			continue
		}
		s := old[e.text : int(e.text)+e.textLen()]
		e.text = uint32(arena.Len())
		arena.WriteString(s)
	}
	on.arena, on.deadText, on.snap = arena, 0, nil
}

// endBulk ends a full load: the order is sorted once (inserting 100,000 names one by
// one would move the order half its length each), then the entries are numbered in
// that order (see ordered), the arena copied in it to its size and the trigram
// postings built, by compact.
func (on *orgNames) endBulk() {
	on.bulk = false
	text := on.text()
	slices.SortFunc(on.sorted, func(a, b uint32) int { return on.compareKeys(text, a, b) })
	on.compact()
}

// search finds where (name, id) is or would be in sorted.
func (on *orgNames) search(name string, id [16]byte) (int, bool) {
	text := on.text()
	return slices.BinarySearchFunc(on.sorted, name, func(key uint32, n string) int {
		e := on.keys.at(key)
		if c := strings.Compare(e.str(text, textName), n); c != 0 {
			return c
		}
		return bytes.Compare(e.id[:], id[:])
	})
}

func (on *orgNames) remove(id [16]byte) {
	key, ok := on.byID.get(&on.keys, id)
	if !ok {
		return
	}
	on.byID.delete(&on.keys, id)
	e := on.keys.at(key)
	pending := -1
	if on.merging {
		pending = slices.Index(on.pending, key)
	}
	switch {
	case pending >= 0:
		on.pending = slices.Delete(on.pending, pending, pending+1)
	case on.bulk:
		if i := slices.Index(on.sorted, key); i >= 0 {
			on.sorted = slices.Delete(on.sorted, i, i+1)
		}
	default:
		if i, ok := on.search(e.str(on.text(), textName), id); ok {
			on.sorted = slices.Delete(on.sorted, i, i+1)
		}
	}
	e.dead = true
	on.dead++
	on.deadText += e.textLen()
	on.snap = nil
	on.views.drop(slot(on.keys.slots, key))
	if !on.merging {
		// A merge's pending keys would not survive a compaction: it waits for the
		// merge's end (endMerge).
		on.compactDead()
	}
}

// compactDead compacts the index once most of its entries are dead.
func (on *orgNames) compactDead() {
	if on.dead > 1024 && on.dead > int(on.keys.n)/2 {
		on.compact()
	}
}

// compact renumbers the live entries by name order (see ordered), dropping the dead
// ones from the store, the postings and the arena. The views kept under the old keys
// are dropped.
func (on *orgNames) compact() {
	old, text := on.keys, on.text()
	on.views.dropOrg(on)
	on.keys, on.byID, on.dead, on.snap = entries{}, idTable{}, 0, nil
	arena := newArena(on.arena.Len() - on.deadText)
	for i, k := range on.sorted {
		e := *old.at(k)
		s := text[e.text : int(e.text)+e.textLen()]
		e.text = uint32(arena.Len())
		arena.WriteString(s)
		key := on.keys.add(e)
		on.byID.set(&on.keys, e.id, key)
		on.sorted[i] = key
	}
	on.arena, on.deadText, on.ordered = arena, 0, on.keys.n
	on.buildGrams()
}

// pageSnap is what pages read of an organization's index without its lock: the arena
// as a string, the owners and the views' slots, each only ever appended to (or
// replaced whole), so that what a page copied under the lock (its entries, by value)
// reads the same after. One is shared by the pages of an unchanged index.
type pageSnap struct {
	orgID  string
	text   string
	owners []UserRef
	slots  []*viewChunk
	on     *orgNames
}

// snapshot returns the index's pageSnap (on.mu held).
func (on *orgNames) snapshot() *pageSnap {
	if on.snap == nil {
		on.snap = &pageSnap{orgID: on.orgID, text: on.text(), owners: on.owners, slots: on.keys.slots, on: on}
	}
	return on.snap
}

// parseID reads a secret id as the read models print it (lowercase, hyphenated);
// anything else is no secret's.
func parseID(s string) ([16]byte, bool) {
	var id [16]byte
	if len(s) != 36 {
		return id, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return id, false
			}
			i++
			continue
		}
		hi, ok1 := hexValue(s[i])
		lo, ok2 := hexValue(s[i+1])
		if !ok1 || !ok2 {
			return id, false
		}
		id[j] = hi<<4 | lo
		j++
		i += 2
	}
	return id, true
}

func hexValue(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// AppendID appends id as the read models print it: canonical, lowercase, hyphenated
// (the API's renderers print GridFields.ID with it too).
func AppendID(b []byte, id [16]byte) []byte {
	const hex = "0123456789abcdef"
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&0xf])
	}
	return b
}
