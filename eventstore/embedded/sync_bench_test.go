package embedded_test

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/keyledger/keyledger/eventstore/embedded"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// Every acknowledged write is on disk before it counts: an append survives kill -9 and
// a power cut. These benchmarks measure what that costs on the machine at hand, below
// Keyledger: a create's append is one such publish (with the expected subject sequence
// 0 a first append carries), so their rate is the ceiling of creates per second,
// whatever the server above them does. BenchmarkSyncedPublish and
// BenchmarkSyncedAtomicBatch measure the server syncing each write itself (SyncAlways,
// as Keyledger ran it until round 21), BenchmarkGroupSyncedPublish the group sync
// Keyledger runs it with now. BENCHMARKS.md ("The create ceiling", round 21) has the
// figures.
//
//	go test -run '^$' -bench Synced -benchtime 3000x ./eventstore/embedded/

// BenchmarkSyncedPublish publishes one message per operation from 32 goroutines at
// once, each to a subject of its own, as concurrent creates do.
func BenchmarkSyncedPublish(b *testing.B) {
	publishParallel(b, syncedStream(b), func(context.Context) error { return nil })
}

// publishParallel publishes one message per operation from 32 goroutines at once,
// each to a subject of its own, each publish followed by after.
func publishParallel(b *testing.B, js jetstream.JetStream, after func(context.Context) error) {
	payload := make([]byte, 800)
	var n atomic.Uint64
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0))) // 32 publishers in all
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			m := &nats.Msg{Subject: "bench.s." + strconv.FormatUint(n.Add(1), 10), Data: payload, Header: nats.Header{}}
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
			if _, err := js.PublishMsg(ctx, m); err != nil {
				b.Error(err)
				return
			}
			if err := after(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkSyncedAtomicBatch publishes 32 messages per operation as one JetStream
// atomic batch, the server's only way to share one sync among several messages: on a
// single server it stages every batch in a file store of its own first, which costs
// more than the syncs it saves.
func BenchmarkSyncedAtomicBatch(b *testing.B) {
	js := syncedStream(b)
	payload := make([]byte, 800)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		msgs := make([]*nats.Msg, 32)
		for j := range msgs {
			msgs[j] = &nats.Msg{Subject: "bench.b." + strconv.Itoa(i) + "." + strconv.Itoa(j), Data: payload, Header: nats.Header{}}
			msgs[j].Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
		}
		if _, err := jetstreamext.PublishMsgBatch(ctx, js, msgs, jetstreamext.BatchFlowControl{AckFirst: false}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*32)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkGroupSyncedPublish is BenchmarkSyncedPublish on a server with GroupSync:
// each publish is followed by a Sync, which the publishers waiting at once share.
func BenchmarkGroupSyncedPublish(b *testing.B) {
	srv, js := stream(b, true)
	publishParallel(b, js, srv.Sync)
}

// syncedStream starts an embedded server that syncs each write (SyncAlways) with a
// file stream that takes atomic batches.
func syncedStream(b *testing.B) jetstream.JetStream {
	_, js := stream(b, false)
	return js
}

// stream starts an embedded server, with GroupSync or syncing each write itself, with
// a file stream that takes atomic batches.
func stream(b *testing.B, groupSync bool) (*embedded.Embedded, jetstream.JetStream) {
	b.Helper()
	ctx := context.Background()
	srv, err := embedded.StartEmbedded(ctx, embedded.EmbeddedOptions{Dir: b.TempDir(), GroupSync: groupSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Shutdown)
	nc, err := srv.Connect("bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "BENCH", Subjects: []string{"bench.>"}, Storage: jetstream.FileStorage, AllowAtomicPublish: true,
	}); err != nil {
		b.Fatal(err)
	}
	return srv, js
}
