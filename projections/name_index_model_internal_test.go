package projections

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/domain"
)

// The compact index answers every page exactly as a scan of its secrets would, through
// creates, updates in place, renames, deletions, the compactions those cause (of the
// entries, of the arena) and the trigram postings built again as the organization
// grows: a model (a map of the secrets) is checked against pages in name order, with
// cursors, q= and env filters, and one secret's read by id.
func TestNameIndexMatchesAModel(t *testing.T) {
	t.Parallel()
	nameIndexModel(t, false)
}

// The same, with the puts made in catch-ups of up to 300 rows at a time (putMany, as
// advance makes them: merged into the order at the end of each, a full load's sort
// for the large ones), and the deletions between them; a catch-up may rename a secret
// it created, or put one twice.
func TestNameIndexMergesCatchUpsAsAModel(t *testing.T) {
	t.Parallel()
	nameIndexModel(t, true)
}

func nameIndexModel(t *testing.T, catchUps bool) {
	type secret struct {
		name, desc string
		masks      [3]string
		set        uint8
		version    int32
	}
	rnd := rand.New(rand.NewPCG(21, 22))
	ix := &nameIndex{}
	on := ix.org("acme")
	on.reset()
	db := &Secrets{names: ix}
	model := map[[16]byte]secret{}
	var ids [][16]byte
	prefixes := []string{"STRIPE", "DB", "AWS_KEY", "A_B", "KEY", "XKEYX"}
	type pendingPut struct {
		id [16]byte
		s  secret
	}
	var batch []pendingPut
	batchSize := 1
	flush := func() {
		t.Helper()
		err := on.putMany(len(batch), func(i int) error {
			p := batch[i]
			e := nameEntry{id: p.id, owner: on.owner(UserRef{ID: "owner"}), version: p.s.version, set: p.s.set, present: 7}
			return on.put(e, [textFields]string{p.s.name, p.s.desc, p.s.masks[0], p.s.masks[1], p.s.masks[2]})
		})
		if err != nil {
			t.Fatal(err)
		}
		batch, batchSize = batch[:0], 1+rnd.IntN(300)
	}
	put := func(id [16]byte, s secret) {
		t.Helper()
		model[id] = s
		batch = append(batch, pendingPut{id, s})
		if !catchUps || len(batch) >= batchSize {
			flush()
		}
	}
	randomSecret := func(n int) secret {
		return secret{
			name:  fmt.Sprintf("%s_%d", prefixes[rnd.IntN(len(prefixes))], n),
			desc:  strings.Repeat(string(rune('a'+rnd.IntN(26))), rnd.IntN(700)),
			masks: [3]string{fmt.Sprint("m", rnd.IntN(100)), "", strings.Repeat("*", rnd.IntN(5))},
			set:   uint8(rnd.IntN(8)), version: int32(1 + rnd.IntN(9)),
		}
	}
	check := func(stage string) {
		t.Helper()
		flush()
		text := on.text()
		for i := 1; i < len(on.sorted); i++ {
			if on.compareKeys(text, on.sorted[i-1], on.sorted[i]) >= 0 {
				t.Fatalf("%s: the order is not sorted at %d: %q, %q", stage, i, on.name(on.sorted[i-1]), on.name(on.sorted[i]))
			}
		}
		for _, f := range []struct {
			env domain.Environment
			q   string
		}{{"", ""}, {"", "KEY"}, {domain.Staging, ""}, {domain.Production, "_1"}, {"", "B_1"}, {domain.Development, "STRIPE_2"}, {"", "NONE"}, {"", "KEY_1"}} {
			var want []string
			for _, s := range model {
				if strings.Contains(s.name, f.q) && (f.env == "" || s.set&envBits[f.env] != 0) {
					want = append(want, s.name)
				}
			}
			slices.Sort(want)
			var got []string
			after := ""
			for {
				rows, more := db.pageRows(on, f.env, f.q, after, 37)
				for _, r := range rows {
					id, _ := parseID(r.ID())
					s := model[id]
					if r.Name() != s.name || r.Description() != s.desc || r.Version() != int(s.version) ||
						r.Env(domain.Production).Mask != s.masks[2] || r.Env(domain.Staging).Set != (s.set&2 != 0) {
						t.Fatalf("%s: row %s (%s), want %+v", stage, r.Name(), r.ID(), s)
					}
					got = append(got, r.Name())
				}
				if !more {
					break
				}
				after = rows[len(rows)-1].Name()
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s, env %q, q %q: %d names, want %d\n got %v\nwant %v", stage, f.env, f.q, len(got), len(want), got, want)
			}
		}
		for id, s := range model {
			key, ok := on.byID.get(&on.keys, id)
			if !ok || on.name(key) != s.name {
				t.Fatalf("%s: secret %x not found by id", stage, id)
			}
		}
		if on.byID.len() != len(model) || len(on.sorted) != len(model) {
			t.Fatalf("%s: %d ids, %d in order, want %d", stage, on.byID.len(), len(on.sorted), len(model))
		}
	}
	compactions, textCompactions := 0, 0
	for step := range 12_000 {
		arena, keys := on.arena, on.keys.n
		switch op := rnd.IntN(10); {
		case op < 4 || len(ids) == 0:
			var id [16]byte
			copy(id[:], fmt.Sprintf("%016d", step))
			ids = append(ids, id)
			put(id, randomSecret(step))
		case op < 7:
			// An update: same name, the rest changed.
			id := ids[rnd.IntN(len(ids))]
			s := randomSecret(step)
			s.name = model[id].name
			put(id, s)
		case op < 8:
			// A rename.
			put(ids[rnd.IntN(len(ids))], randomSecret(step))
		default:
			flush()
			i := rnd.IntN(len(ids))
			on.remove(ids[i])
			if _, ok := on.byID.get(&on.keys, ids[i]); ok {
				t.Fatalf("step %d: a removed secret is still found by id", step)
			}
			delete(model, ids[i])
			ids = slices.Delete(ids, i, i+1)
		}
		if on.keys.n < keys {
			compactions++
		} else if on.arena != arena && on.arena.Len() < arena.Len() {
			textCompactions++
		}
		if step%1500 == 0 || step == 11_999 {
			check(fmt.Sprint("step ", step))
		}
	}
	if compactions == 0 || textCompactions == 0 {
		t.Fatalf("%d compactions, %d of the arena: the test must reach both", compactions, textCompactions)
	}
}
