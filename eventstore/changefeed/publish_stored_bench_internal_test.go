package changefeed

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore/eventstoretest"
)

// cpuNow is the CPU time this process (client and embedded server) has used.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPublishStored stores outbox rounds of n notices on the embedded server with
// group sync, as serve runs it: "atomic" as one atomic batch (what a cluster's
// publisher does from minChangeBatch notices on), "inturn" one by one sharing one sync
// (PublishInTurn), "chained" as one chained run sharing one sync (eventstore.Chained,
// what serve does). It reports the process's CPU per notice as well as the time.
func BenchmarkPublishStored(b *testing.B) {
	for _, n := range []int{12, 24, 48, 192} {
		for _, mode := range []string{"atomic", "inturn", "chained"} {
			b.Run(fmt.Sprint(mode, "/n=", n), func(b *testing.B) {
				env := eventstoretest.New(b)
				ctx := context.Background()
				c, err := Open(ctx, env.Store)
				if err != nil {
					b.Fatal(err)
				}
				if mode != "chained" {
					c.chain = nil
				}
				// One by one: atomic batches off, as a server that refuses them turns them.
				c.single.Store(mode == "inturn")
				after, _, err := c.Tail(ctx)
				if err != nil {
					b.Fatal(err)
				}
				seq := uint64(0)
				const org = "6f1c2d3e-0000-4000-8000-000000000001"
				b.ResetTimer()
				cpu0 := cpuNow()
				for range b.N {
					batch := make([]Stored, n)
					for i := range batch {
						seq++
						batch[i] = Stored{Seq: seq, OrgID: org, Data: []byte(`{"type":"secret.updated","x":"` + fmt.Sprint(seq) + `"}`)}
					}
					k, last, err := c.PublishStored(ctx, after, batch)
					if err != nil || k != n {
						b.Fatal(k, err)
					}
					after = last
				}
				b.ReportMetric(float64(cpuNow()-cpu0)/float64(b.N*n), "cpu-ns/notice")
			})
		}
	}
}
