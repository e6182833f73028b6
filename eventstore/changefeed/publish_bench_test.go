package changefeed_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/httpapi/wire"
)

// BenchmarkPublishBatch publishes projector batches of n notices, each a fresh event,
// to the embedded server (fsync on every message, as serve runs it): the cost a
// projector batch pays before it commits, which every write's answer waits for.
func BenchmarkPublishBatch(b *testing.B) {
	for _, n := range []int{4, 8, 12, 16, 30} {
		b.Run(fmt.Sprint("notices=", n), func(b *testing.B) {
			env := eventstoretest.New(b)
			ctx := context.Background()
			c, err := changefeed.Open(ctx, env.Store)
			if err != nil {
				b.Fatal(err)
			}
			seq := uint64(0)
			b.ResetTimer()
			for range b.N {
				batch := make([]wire.ChangeNotice, n)
				for i := range batch {
					seq++
					batch[i] = wire.ChangeNotice{Type: "secret.updated", OrgID: changesOrg, SecretID: changesOrg, Env: "production",
						NewVersion: int(seq), At: time.Now().UTC(), Seq: seq}
				}
				if err := c.PublishBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
