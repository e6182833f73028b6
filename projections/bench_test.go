package projections_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
)

// BenchmarkCreateSecret runs CreateSecret through the real stack (embedded JetStream
// with fsync on every append, real Postgres, the projector) from parallel clients and
// reports commands/s and the projection lag: the time from a command's
// acknowledgement until the read models show it.
func BenchmarkCreateSecret(b *testing.B) {
	r := newRig(b, true)
	ctx := context.Background()
	var n atomic.Int64
	var mu sync.Mutex
	lags := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			res, err := r.h.CreateSecret.Handle(ctx, r.owner, commands.CreateSecret{
				OrgID: r.orgID, Name: fmt.Sprintf("BENCH_%d", i),
				Values: map[domain.Environment]domain.Plaintext{domain.Production: domain.NewPlaintext("sk_live_0123456789abcdefghijklmnopqrstuv")},
			})
			if err != nil {
				b.Error(err)
				return
			}
			acked := time.Now()
			if err := r.db.Progress.WaitFor(ctx, res.Seq); err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			lags = append(lags, time.Since(acked))
			mu.Unlock()
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lags) == 0 {
		return
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	b.ReportMetric(float64(len(lags))/elapsed.Seconds(), "cmds/s")
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "lag-p50-ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "lag-p99-ms")
}
