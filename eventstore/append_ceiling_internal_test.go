package eventstore

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkLogCeiling publishes 600-byte messages to new subjects of the log, each
// expecting its subject empty (as a create's SecretCreated does), from 32 publishers
// at once on the embedded server: the most appends a second the log's stream takes on
// this machine's disk, nothing else running. The stream stores and syncs one message
// after another, so ns/op is one message's store and fsync, whatever the publishers.
// `go test -run '^$' -bench LogCeiling ./eventstore/`
func BenchmarkLogCeiling(b *testing.B) {
	s := newInternalStore(b)
	ctx := context.Background()
	data := make([]byte, 600)
	var next atomic.Int64
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m := &nats.Msg{Subject: fmt.Sprintf("%s.org.secret.s%d", SubjectPrefix, next.Add(1)), Data: data, Header: nats.Header{}}
			m.Header.Set(headerType, "secret.created")
			if _, err := s.js.PublishMsg(ctx, m, jetstream.WithExpectStream(StreamName), jetstream.WithExpectLastSequencePerSubject(0)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
