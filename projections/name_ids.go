package projections

import "hash/maphash"

// idTable finds a live entry's key by its secret's id: open addressing with linear
// probing over the keys themselves (4 bytes a slot, at most half of them used), each
// id compared with the one in its entry. A map of 16-byte ids to keys took 28 bytes a
// secret (2.8 MB of the index at 100,000 secrets); this takes 8 to 16.
type idTable struct {
	seed maphash.Seed
	// slots hold key+1, 0 where empty.
	slots []uint32
	n     int
}

// home is the slot where id's probe starts.
func (t *idTable) home(id [16]byte) int {
	return int(maphash.Bytes(t.seed, id[:]) & uint64(len(t.slots)-1))
}

// get returns the key of id's entry in s.
func (t *idTable) get(s *entries, id [16]byte) (uint32, bool) {
	if t.n == 0 {
		return 0, false
	}
	mask := len(t.slots) - 1
	for i := t.home(id); ; i = (i + 1) & mask {
		k := t.slots[i]
		if k == 0 {
			return 0, false
		}
		if s.at(k-1).id == id {
			return k - 1, true
		}
	}
}

// set makes key id's entry in s (s holds key's entry with that id already).
func (t *idTable) set(s *entries, id [16]byte, key uint32) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow(s)
	}
	mask := len(t.slots) - 1
	for i := t.home(id); ; i = (i + 1) & mask {
		k := t.slots[i]
		if k == 0 {
			t.slots[i] = key + 1
			t.n++
			return
		}
		if s.at(k-1).id == id {
			t.slots[i] = key + 1
			return
		}
	}
}

// grow doubles the table (a new table's 64 slots at first).
func (t *idTable) grow(s *entries) {
	old := t.slots
	if t.slots == nil {
		t.seed = maphash.MakeSeed()
	}
	t.slots, t.n = make([]uint32, max(64, 2*len(old))), 0
	for _, k := range old {
		if k != 0 {
			t.set(s, s.at(k-1).id, k-1)
		}
	}
}

// delete removes id. The entries after it in its run move back into the gap (so that
// no probe stops early), each as far as its home slot allows.
func (t *idTable) delete(s *entries, id [16]byte) {
	if t.n == 0 {
		return
	}
	mask := len(t.slots) - 1
	i := t.home(id)
	for {
		k := t.slots[i]
		if k == 0 {
			return
		}
		if s.at(k-1).id == id {
			break
		}
		i = (i + 1) & mask
	}
	t.n--
	gap := i
	for j := (gap + 1) & mask; t.slots[j] != 0; j = (j + 1) & mask {
		home := t.home(s.at(t.slots[j] - 1).id)
		// The entry at j may fill the gap unless its home lies cyclically in (gap, j].
		if (j-home)&mask >= (j-gap)&mask {
			t.slots[gap] = t.slots[j]
			gap = j
		}
	}
	t.slots[gap] = 0
}

// len is the number of ids in the table.
func (t *idTable) len() int { return t.n }
