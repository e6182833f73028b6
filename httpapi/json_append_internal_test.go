package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/keyledger/keyledger/projections"
)

// hostileStrings are the strings a row may carry that a hand-written encoder gets wrong.
var hostileStrings = []string{
	"", "plain", `quote " backslash \ slash /`, "tab\tnewline\nreturn\rbell\x07nul\x00del\x7f\b\f",
	"<script>&amp;</script>", "ünïcødé ✓ 🔑", "line\u2028para\u2029end", "bad \xff\xfe utf-8 \xc3", "\xe2\x82",
}

func appendRow(name, desc, mask string) projections.SecretRow {
	at := time.Date(2026, 12, 2, 15, 36, 12, 526096000, time.FixedZone("X", 3600))
	return projections.SecretRow{
		ID: "ae09e51d-5aa5-4beb-8199-79107ff572ed", OrgID: "86a1a047-7b40-43ff-ba3e-dbdf1b028135",
		Name: name, Description: desc, Owner: projections.UserRef{ID: "01653bd4-bf21-5884-bf55-adc273779839", Email: "o@example.com", Name: desc},
		CreatedAt: at, UpdatedAt: at.Add(time.Second), Version: 3,
		Environments: map[domain.Environment]projections.EnvState{
			domain.Development: {Set: true, Version: 2, Mask: mask, UpdatedAt: at},
			domain.Staging:     {Set: false, Version: 4, UpdatedAt: at},
		},
	}
}

// checkAppendSecret compares the hand-written encoding of a page and of one secret with
// encoding/json's of the same wire types, byte for byte.
func checkAppendSecret(t *testing.T, rows []projections.SecretRow, next string) {
	t.Helper()
	principals := []domain.Principal{
		{UserID: "01653bd4-bf21-5884-bf55-adc273779839", Role: domain.RoleEditor},
		{UserID: "someone-else", Role: domain.RoleViewer},
		{UserID: "x", Role: domain.RoleAdmin},
	}
	for _, p := range principals {
		for _, policy := range []domain.RevealPolicy{"", "allowed", "owners_only"} {
			items := make([]wire.Secret, 0, len(rows))
			for _, r := range rows {
				items = append(items, secretOut(r, p, policy))
				want, err := json.Marshal(secretOut(r, p, policy))
				if err != nil {
					t.Fatal(err)
				}
				if got := appendSecret(nil, r, p, policy); !bytes.Equal(got, want) {
					t.Fatalf("one secret:\n got %s\nwant %s", got, want)
				}
			}
			want, err := json.Marshal(wire.Page[wire.Secret]{Items: items, NextCursor: next})
			if err != nil {
				t.Fatal(err)
			}
			if got := appendSecretPage(nil, rows, next, p, policy); !bytes.Equal(got, want) {
				t.Fatalf("page:\n got %s\nwant %s", got, want)
			}
		}
	}
}

func TestAppendSecretMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	var rows []projections.SecretRow
	for i, s := range hostileStrings {
		rows = append(rows, appendRow(s, hostileStrings[(i+1)%len(hostileStrings)], hostileStrings[(i+2)%len(hostileStrings)]))
	}
	checkAppendSecret(t, rows, "")
	checkAppendSecret(t, rows[:2], "S0VZXzAwMTA")
	checkAppendSecret(t, nil, "")
	// Random strings from a hostile alphabet (the package's fuzz target runs only its
	// seeds in make test).
	rnd := rand.New(rand.NewPCG(11, 12))
	alphabet := []string{"a", "Z", "0", "\"", "\\", "<", ">", "&", "\x00", "\x1f", "\x7f", "\t", "\n", "é", "🔑", "\u2028", "\u2029", "\xff", "\xc3", "\xe2\x82", "\ufffd"}
	word := func() string {
		var b strings.Builder
		for range rnd.IntN(12) {
			b.WriteString(alphabet[rnd.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 500 {
		checkAppendSecret(t, []projections.SecretRow{appendRow(word(), word(), word())}, word())
	}
}

// A page's rows share owners and times, and the encoder copies what it wrote for the
// last owner and the row's last time rather than render them again (see
// appendSecretView): the bytes stay encoding/json's for owners that differ in one
// field only, times equal as instants in different zones, and times that repeat
// after another.
func TestAppendPageOfRepeatedOwnersAndTimes(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 15, 36, 12, 526096000, time.UTC)
	owners := []projections.UserRef{
		{ID: "01653bd4-bf21-5884-bf55-adc273779839", Email: "o@example.com", Name: "Owner"},
		{ID: "01653bd4-bf21-5884-bf55-adc273779839", Email: "o@example.com", Name: "Owner <renamed>"},
		{ID: "11653bd4-bf21-5884-bf55-adc273779839", Email: "o@example.com", Name: "Owner"},
	}
	times := []time.Time{at, at.In(time.FixedZone("X", 3600)), at.Add(time.Nanosecond), at.Add(time.Second), {}}
	rnd := rand.New(rand.NewPCG(15, 16))
	for range 200 {
		var rows []projections.SecretRow
		for i := range 1 + rnd.IntN(6) {
			pick := func() time.Time { return times[rnd.IntN(len(times))] }
			r := projections.SecretRow{
				ID: "ae09e51d-5aa5-4beb-8199-79107ff572ed", Name: fmt.Sprint("KEY_", i), Owner: owners[rnd.IntN(len(owners))],
				CreatedAt: pick(), UpdatedAt: pick(), Version: 1 + i,
				Environments: map[domain.Environment]projections.EnvState{},
			}
			for _, env := range []domain.Environment{domain.Development, domain.Staging, domain.Production} {
				if rnd.IntN(4) > 0 {
					r.Environments[env] = projections.EnvState{Set: rnd.IntN(3) > 0, Version: rnd.IntN(3), Mask: "ab***", UpdatedAt: pick()}
				}
			}
			rows = append(rows, r)
		}
		checkAppendSecret(t, rows, "")
	}
}

func FuzzAppendSecretMatchesEncodingJSON(f *testing.F) {
	for i, s := range hostileStrings {
		f.Add(s, hostileStrings[(i+3)%len(hostileStrings)], hostileStrings[(i+5)%len(hostileStrings)])
	}
	f.Fuzz(func(t *testing.T, name, desc, mask string) {
		checkAppendSecret(t, []projections.SecretRow{appendRow(name, desc, mask)}, name)
	})
}

// gridFieldsRow is the SecretRow that GridRow.Row() reads for a row whose Fields() are f.
func gridFieldsRow(f projections.GridFields) projections.SecretRow {
	r := projections.SecretRow{
		ID: fmt.Sprintf("%x-%x-%x-%x-%x", f.ID[:4], f.ID[4:6], f.ID[6:8], f.ID[8:10], f.ID[10:]), Name: f.Name,
		Description: f.Description, Owner: f.Owner, CreatedAt: time.Unix(0, f.CreatedAt).UTC(),
		UpdatedAt: time.Unix(0, f.UpdatedAt).UTC(), Version: f.Version,
		Environments: map[domain.Environment]projections.EnvState{},
	}
	for i, env := range projections.GridEnvs() {
		e := f.Envs[i]
		r.Environments[env] = projections.EnvState{Set: e.Set, Version: e.Version, Mask: e.Mask, UpdatedAt: time.Unix(0, e.UpdatedAt).UTC()}
	}
	return r
}

// The name index's rows render from their fields (appendGridView), remembering across
// the rows of a page the owner and the last time written, whole or its second: a page
// of them is encoding/json's page of the same rows, byte for byte, with hostile
// strings, owners that differ in one field only, and times that repeat, share a
// second, cross one, come before 1970 or sit at the ends of what Unix nanoseconds hold.
func TestAppendGridViewMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 12, 2, 15, 36, 12, 526096000, time.UTC).UnixNano()
	times := []int64{base, base + 1, base + 1e9, base - 526096000, base - 526096001, base + 473903999, base + 473904000,
		0, -1, -1e9, -1e9 - 1, 1, math.MinInt64, math.MaxInt64, base / 1e9 * 1e9, base + 1e8}
	owners := []projections.UserRef{
		{ID: "01653bd4-bf21-5884-bf55-adc273779839", Email: "o@example.com", Name: "Owner"},
		{ID: "01653bd4-bf21-5884-bf55-adc273779839", Email: "o@example.com", Name: "Owner <renamed>"},
		{ID: "11653bd4-bf21-5884-bf55-adc273779839", Email: "o@example.com", Name: "Owner"},
	}
	principals := []domain.Principal{
		{UserID: owners[0].ID, Role: domain.RoleEditor},
		{UserID: "someone-else", Role: domain.RoleViewer},
		{UserID: "x", Role: domain.RoleAdmin},
	}
	rnd := rand.New(rand.NewPCG(17, 18))
	pick := func() int64 {
		if rnd.IntN(4) == 0 {
			return rnd.Int64()
		}
		return times[rnd.IntN(len(times))]
	}
	str := func() string { return hostileStrings[rnd.IntN(len(hostileStrings))] }
	for range 300 {
		var fields []projections.GridFields
		for range 1 + rnd.IntN(8) {
			f := projections.GridFields{Name: str(), Description: str(), Owner: owners[rnd.IntN(len(owners))],
				CreatedAt: pick(), UpdatedAt: pick(), Version: rnd.IntN(5)}
			for i := range f.ID {
				f.ID[i] = byte(rnd.IntN(256))
			}
			for i := range f.Envs {
				if rnd.IntN(4) > 0 {
					f.Envs[i] = projections.GridEnv{Set: rnd.IntN(3) > 0, Version: rnd.IntN(3), Mask: str(), UpdatedAt: pick()}
				}
			}
			fields = append(fields, f)
		}
		for _, p := range principals {
			for _, policy := range []domain.RevealPolicy{"", "allowed", "owners_only"} {
				var items []wire.Secret
				perms := &rowPermissions{p: p, policy: policy}
				got := []byte(`{"items":[`)
				for i := range fields {
					items = append(items, secretOut(gridFieldsRow(fields[i]), p, policy))
					if i > 0 {
						got = append(got, ',')
					}
					// As appendGridRow renders a row without a kept view.
					got = appendGridView(got, &fields[i], &perms.memo)
					got = appendPermissions(got, perms.of(fields[i].Owner.ID))
				}
				got = appendPageEnd(got, "")
				want, err := json.Marshal(wire.Page[wire.Secret]{Items: items})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("page:\n got %s\nwant %s", got, want)
				}
			}
		}
	}
}
