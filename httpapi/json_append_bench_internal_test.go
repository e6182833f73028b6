package httpapi

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/projections"
)

// BenchmarkAppendGridView renders a page of 100 rows as the benchmark's seeded ones:
// one owner, a value in each environment, rows created a few milliseconds apart.
func BenchmarkAppendGridView(b *testing.B) {
	owner := projections.UserRef{ID: "01653bd4-bf21-5884-bf55-adc273779839", Email: "admin@example.com", Name: "Bench Admin"}
	at := time.Date(2026, 12, 2, 15, 36, 12, 526096000, time.UTC).UnixNano()
	rows := make([]projections.GridFields, 100)
	for i := range rows {
		ns := at + int64(i)*3_123_457
		f := projections.GridFields{Name: fmt.Sprintf("BENCH_SEED_%07d", 1234500+i), Owner: owner, CreatedAt: ns, UpdatedAt: ns, Version: 1}
		f.ID[0], f.ID[15] = byte(i), byte(i*7)
		for e := range f.Envs {
			f.Envs[e] = projections.GridEnv{Set: true, Version: 1, Mask: "be*******", UpdatedAt: ns}
		}
		rows[i] = f
	}
	buf := make([]byte, 0, 128<<10)
	b.ReportAllocs()
	for b.Loop() {
		perms := &rowPermissions{p: domain.Principal{UserID: owner.ID, Role: domain.RoleAdmin}}
		out := buf[:0]
		for i := range rows {
			out = appendGridView(out, &rows[i], &perms.memo)
			out = appendPermissions(out, perms.of(owner.ID))
		}
		buf = out
	}
	b.SetBytes(int64(len(buf)))
}
