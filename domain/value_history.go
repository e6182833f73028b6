package domain

import (
	"slices"
	"sort"
)

// valueHistory is every version of one environment's value, ascending by version,
// shared between a secret and its clones (Secret.Clone) without copying it.
//
// The versions are in chunks of historyChunk that never change once full, and
// recent, the versions after them. Both slices are only ever appended to, and a
// clone's are capped at their lengths, so that what either holder appends later goes
// to an array of its own and the other never sees it. A holder that appends to a
// capped slice copies it: recent is at most historyChunk versions, and the chunks'
// slice one pointer per historyChunk versions, so a new version costs a clone about
// the same on a value with fifty thousand versions as on one with fifty. (One slice
// of every version was copied whole whenever a clone took a new version, as every
// write to a cached secret does: at tens of thousands of versions that was 77 % of
// what a hot secret's writers allocated.)
type valueHistory struct {
	chunks []*[historyChunk]ValueVersion
	recent []ValueVersion
}

// historyChunk is how many versions a chunk holds.
const historyChunk = 32

// historyOf is a history of the one version v.
func historyOf(v ValueVersion) valueHistory {
	return valueHistory{recent: []ValueVersion{v}}
}

// len is how many versions the history holds.
func (h valueHistory) len() int { return len(h.chunks)*historyChunk + len(h.recent) }

// at is the i-th version, ascending.
func (h valueHistory) at(i int) ValueVersion {
	if c := i / historyChunk; c < len(h.chunks) {
		return h.chunks[c][i%historyChunk]
	}
	return h.recent[i-len(h.chunks)*historyChunk]
}

// find is the given version, if the history holds it.
func (h valueHistory) find(version int) (ValueVersion, bool) {
	i, ok := h.search(version)
	if !ok {
		return ValueVersion{}, false
	}
	return h.at(i), true
}

// search is where version is, or would go, in ascending order.
func (h valueHistory) search(version int) (int, bool) {
	n := h.len()
	i := sort.Search(n, func(i int) bool { return h.at(i).Version >= version })
	return i, i < n && h.at(i).Version == version
}

// shared is the history as a clone holds it: the same versions, each slice capped at
// its length.
func (h valueHistory) shared() valueHistory {
	return valueHistory{chunks: slices.Clip(h.chunks), recent: slices.Clip(h.recent)}
}

// with records v. A new version is appended; a version that is not the newest (a log
// never makes one, but Apply is total) goes into a copy of the whole, so that no
// clone sharing the history sees it change.
func (h valueHistory) with(v ValueVersion) valueHistory {
	n := h.len()
	if n == 0 || h.at(n-1).Version < v.Version {
		if len(h.recent) == historyChunk {
			// A chunk of its own: the array recent leaves may be shared with clones.
			c := new([historyChunk]ValueVersion)
			copy(c[:], h.recent)
			h.chunks, h.recent = append(h.chunks, c), nil
		}
		h.recent = append(h.recent, v)
		return h
	}
	i, found := h.search(v.Version)
	var out valueHistory
	for j := range i {
		out = out.with(h.at(j))
	}
	out = out.with(v)
	if found {
		i++
	}
	for j := i; j < n; j++ {
		out = out.with(h.at(j))
	}
	return out
}
