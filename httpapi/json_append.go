package httpapi

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/domain/jsonappend"
	"github.com/keyledger/keyledger/projections"
)

// The answers a busy server writes most, a grid page above all (100 rows of five
// timestamps each), are appended to one buffer by hand: through reflection and
// time.Time's MarshalJSON, whose output the encoder then scans again, encoding was half
// of a grid page's CPU. The bytes are encoding/json's for the same wire types
// (json_append_test.go compares them, and a fuzz test with hostile strings).

// sendJSON appends an answer with fill straight into the response's own body buffer
// (fasthttp's, pooled) and sets the JSON content type. Appending into a buffer of our
// own and then SetBody copied every answer once more: a grid page is some 60 KB, and
// that copy was a tenth of a page's CPU once the rows were no longer rendered per page.
func sendJSON(c *fiber.Ctx, fill func([]byte) []byte) error {
	resp := c.Response()
	// SwapBody hands over the body buffer (and takes it back below); nothing else
	// holds it meanwhile.
	body := fill(resp.SwapBody(nil)[:0])
	resp.SwapBody(body)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return nil
}

// appendSecret appends secretOut(r, p, policy) as encoding/json writes a wire.Secret.
func appendSecret(b []byte, r projections.SecretRow, p domain.Principal, policy domain.RevealPolicy) []byte {
	b = appendSecretView(b, &r, nil)
	return appendPermissions(b, domain.PermissionsFor(p, domain.Target{OwnerID: r.Owner.ID, RevealPolicy: policy}))
}

// appendSecretView appends the part of appendSecret that is the same for every
// caller: the row up to the value of "permissions", which appendPermissions appends.
// owners, when not nil, remembers where in b an owner was written (the rows of a page
// mostly share one or a few). A row's times mostly repeat too (a value set by the
// secret's latest change was updated when the secret was): one equal to the time
// written before it is copied, not rendered again. The name index's rows render
// through appendGridView instead.
func appendSecretView(b []byte, r *projections.SecretRow, owners *ownerMemo) []byte {
	b = append(b, `{"id":`...)
	b = jsonappend.String(b, r.ID)
	b = append(b, `,"name":`...)
	b = jsonappend.String(b, r.Name)
	b = append(b, `,"description":`...)
	b = jsonappend.String(b, r.Description)
	b = append(b, `,"owner":`...)
	b = owners.append(b, r.Owner)
	var last lastTime
	b = append(b, `,"created_at":`...)
	b = last.append(b, r.CreatedAt.UTC())
	b = append(b, `,"updated_at":`...)
	b = last.append(b, r.UpdatedAt.UTC())
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(r.Version), 10)
	b = append(b, `,"environments":{"development":`...)
	b = appendEnvState(b, r.Environments[domain.Development], &last)
	b = append(b, `,"staging":`...)
	b = appendEnvState(b, r.Environments[domain.Staging], &last)
	b = append(b, `,"production":`...)
	b = appendEnvState(b, r.Environments[domain.Production], &last)
	return append(b, `},"permissions":`...)
}

// gridMemo is what the rows of one answer remember of what they wrote before them,
// by where it is in the answer's buffer (which only grows, so the bytes stay where
// they were): the last owner, and the last time.
type gridMemo struct {
	owners ownerMemo
	times  unixTimeMemo
}

// appendGridView appends what appendSecretView appends for the row f holds (see
// GridRow.Fields), reading it in one copy rather than method by method. Every row of
// a q= page is rendered (q= pages keep no views, see GridRow.View), and through the
// row's methods rendering was a fifth of the page's CPU at 100,000 secrets. The rows of a page share their owner and mostly their times, or at
// least their times' second (rows created together): m copies what was written for
// them before.
func appendGridView(b []byte, f *projections.GridFields, m *gridMemo) []byte {
	b = append(b, `{"id":"`...)
	b = projections.AppendID(b, f.ID)
	b = append(b, `","name":`...)
	b = jsonappend.String(b, f.Name)
	b = append(b, `,"description":`...)
	b = jsonappend.String(b, f.Description)
	b = append(b, `,"owner":`...)
	b = m.owners.append(b, f.Owner)
	b = append(b, `,"created_at":`...)
	b = m.times.append(b, f.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = m.times.append(b, f.UpdatedAt)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(f.Version), 10)
	for i := range f.Envs {
		b = append(b, gridEnvKeys[i]...)
		st := &f.Envs[i]
		if !st.Set {
			b = append(b, unsetEnv...)
			continue
		}
		b = appendSetEnvHead(b, st.Version, st.Mask)
		b = m.times.append(b, st.UpdatedAt)
		b = append(b, '}')
	}
	return append(b, `},"permissions":`...)
}

// gridEnvKeys open each environment of a row, in GridFields.Envs' order.
var gridEnvKeys = func() (keys [3]string) {
	for i, env := range projections.GridEnvs() {
		keys[i] = `,"` + string(env) + `":`
	}
	keys[0] = `,"environments":{` + keys[0][1:]
	return keys
}()

// unixTimeMemo is where in an answer's buffer the last time (Unix nanoseconds)
// appendGridView wrote is.
type unixTimeMemo struct {
	ns         int64
	start, end int
}

// append appends time.Unix(0, ns).UTC() as jsonappend.Time does: the bytes of the last
// time when ns is that instant, its date and clock when ns is in the same second.
func (m *unixTimeMemo) append(b []byte, ns int64) []byte {
	if m.end > 0 && ns == m.ns {
		return append(b, b[m.start:m.end]...)
	}
	start := len(b)
	sec, frac := ns/1e9, ns%1e9
	if frac < 0 {
		sec, frac = sec-1, frac+1e9
	}
	if m.end > 0 && sec == floorSecond(m.ns) {
		// `"YYYY-MM-DDTHH:MM:SS`: every Unix nanosecond's year has four digits.
		b = append(b, b[m.start:m.start+20]...)
		b = jsonappend.Fraction(b, int(frac))
		b = append(b, 'Z', '"')
	} else {
		b = jsonappend.Time(b, time.Unix(sec, frac).UTC())
	}
	m.ns, m.start, m.end = ns, start, len(b)
	return b
}

// floorSecond is the second of Unix nanosecond ns (rounded down).
func floorSecond(ns int64) int64 {
	sec := ns / 1e9
	if ns%1e9 < 0 {
		sec--
	}
	return sec
}

// ownerMemo is where in an answer's buffer the last owner was appended (see
// appendSecretView): the buffer only grows, so the bytes stay where they were.
type ownerMemo struct {
	owner      projections.UserRef
	start, end int
}

// append appends u as a wire.Owner, copying the bytes appended for the same owner
// before (a nil memo renders it).
func (m *ownerMemo) append(b []byte, u projections.UserRef) []byte {
	if m != nil && m.end > 0 && m.owner == u {
		return append(b, b[m.start:m.end]...)
	}
	start := len(b)
	b = append(b, `{"id":`...)
	b = jsonappend.String(b, u.ID)
	b = append(b, `,"email":`...)
	b = jsonappend.String(b, u.Email)
	b = append(b, `,"name":`...)
	b = jsonappend.String(b, u.Name)
	b = append(b, '}')
	if m != nil {
		m.owner, m.start, m.end = u, start, len(b)
	}
	return b
}

// lastTime is where in a row's buffer its last time was appended.
type lastTime struct {
	t          time.Time
	start, end int
}

// append appends t (in UTC) as jsonappend.Time does, copying the bytes of the time
// appended before when t is the same instant.
func (l *lastTime) append(b []byte, t time.Time) []byte {
	if l.end > 0 && t.Equal(l.t) {
		return append(b, b[l.start:l.end]...)
	}
	start := len(b)
	b = jsonappend.Time(b, t)
	l.t, l.start, l.end = t, start, len(b)
	return b
}

// appendPermissions ends a row that appendSecretView began.
func appendPermissions(b []byte, perms domain.SecretPermissions) []byte {
	b = append(b, `{"reveal":`...)
	b = jsonappend.Bool(b, perms.Reveal)
	b = append(b, `,"modify":`...)
	b = jsonappend.Bool(b, perms.Modify)
	b = append(b, `,"delete":`...)
	b = jsonappend.Bool(b, perms.Delete)
	return append(b, `}}`...)
}

// appendGridRow appends g as appendSecret appends g.Row(). The caller-independent part
// is rendered once per row the index holds and kept with it (GridRow.KeepView; not for
// the rows of q= pages, which render theirs every time): a
// page copies 100 kept views and appends each caller's permissions, where rendering
// the rows (five timestamps each) was most of a page's CPU. Nothing of the caller goes
// into a view, so one kept by an owner's page is right for a viewer's; a change of the
// secret is a new row without a view.
func appendGridRow(b []byte, g *projections.GridRow, perms *rowPermissions) []byte {
	if view := g.View(); view != nil {
		b = append(b, view...)
		return appendPermissions(b, perms.of(g.OwnerID()))
	}
	start := len(b)
	f := g.Fields()
	b = appendGridView(b, &f, &perms.memo)
	g.KeepView(b[start:])
	return appendPermissions(b, perms.of(f.Owner.ID))
}

// rowPermissions are a caller's permissions on the rows of one answer: PermissionsFor
// depends on nothing of a row but its owner, and a page's rows mostly share one or a
// few, so it is asked once per run of rows with the same owner rather than per row
// (three Authorize calls a row were an eighth of a first page's CPU).
type rowPermissions struct {
	p      domain.Principal
	policy domain.RevealPolicy
	known  bool
	owner  string
	perms  domain.SecretPermissions
	// memo remembers what the answer's rows rendered (see appendGridView).
	memo gridMemo
}

// of is PermissionsFor(p, Target{OwnerID: owner, RevealPolicy: policy}).
func (r *rowPermissions) of(owner string) domain.SecretPermissions {
	if !r.known || owner != r.owner {
		r.known, r.owner = true, owner
		r.perms = domain.PermissionsFor(r.p, domain.Target{OwnerID: owner, RevealPolicy: r.policy})
	}
	return r.perms
}

// appendEnvState appends envOut(st) as encoding/json writes a wire.EnvState (its
// omitempty fields left out when empty).
func appendEnvState(b []byte, st projections.EnvState, last *lastTime) []byte {
	if !st.Set {
		return append(b, unsetEnv...)
	}
	b = appendSetEnvHead(b, st.Version, st.Mask)
	b = last.append(b, st.UpdatedAt.UTC())
	return append(b, '}')
}

// unsetEnv is an environment without a value, as encoding/json writes its wire.EnvState.
const unsetEnv = `{"set":false}`

// appendSetEnvHead appends a set environment's wire.EnvState up to its updated_at's
// value, which the caller appends (from whichever time it holds) before the closing
// brace.
func appendSetEnvHead(b []byte, version int, mask string) []byte {
	b = append(b, `{"set":true`...)
	if version != 0 {
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, int64(version), 10)
	}
	if mask != "" {
		b = append(b, `,"mask":`...)
		b = jsonappend.String(b, mask)
	}
	return append(b, `,"updated_at":`...)
}

// appendSecretPage appends a grid page as encoding/json writes a
// wire.Page[wire.Secret] (an empty next cursor as null).
func appendSecretPage(b []byte, rows []projections.SecretRow, next string, p domain.Principal, policy domain.RevealPolicy) []byte {
	var owners ownerMemo
	return appendPage(b, rows, next, func(b []byte, r projections.SecretRow) []byte {
		b = appendSecretView(b, &r, &owners)
		return appendPermissions(b, domain.PermissionsFor(p, domain.Target{OwnerID: r.Owner.ID, RevealPolicy: policy}))
	})
}

// appendGridPage is appendSecretPage of the name index's rows (see appendGridRow).
func appendGridPage(b []byte, rows []projections.GridRow, next string, p domain.Principal, policy domain.RevealPolicy) []byte {
	perms := &rowPermissions{p: p, policy: policy}
	b = append(b, `{"items":[`...)
	for i := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendGridRow(b, &rows[i], perms)
	}
	return appendPageEnd(b, next)
}

// appendPage appends {"items":[rows...],"next_cursor":next} with appendRow for each row.
func appendPage[R any](b []byte, rows []R, next string, appendRow func([]byte, R) []byte) []byte {
	b = append(b, `{"items":[`...)
	for i, r := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRow(b, r)
	}
	return appendPageEnd(b, next)
}

func appendPageEnd(b []byte, next string) []byte {
	b = append(b, `],"next_cursor":`...)
	if next == "" {
		b = append(b, "null"...)
	} else {
		b = jsonappend.String(b, next)
	}
	return append(b, '}')
}
