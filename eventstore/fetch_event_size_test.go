package eventstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/nats-io/nats.go/jetstream"
)

// natsDefaultMaxPayload is a NATS server's max_payload unless configured otherwise:
// the largest message an external cluster takes (the embedded server allows 4 MiB).
const natsDefaultMaxPayload = 1 << 20

// A values fetch is audited by one event, one message in the log. Listing every name
// failed the fetch of a large environment (the message outgrew the server's maximum
// payload); domain.NewSecretsFetched lists at most MaxFetchedNames. This appends the
// worst case the bound allows (that many names of the longest length, the longest user
// agent the API records) and the event for 60,000 such names, and measures the stored
// messages against NATS's default maximum.
func TestWorstCaseFetchEventFitsOneMessage(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	const many = 60_000
	names := make([]string, many)
	for i := range names {
		// Already in byte order: the number is zero-padded.
		n := fmt.Sprintf("N%0*d", domain.MaxSecretNameLength-1, i)
		if _, err := domain.ParseSecretName(n); err != nil {
			t.Fatal(err)
		}
		names[i] = n
	}
	org := "33333333-3333-3333-3333-333333333333"
	agg := eventstore.Aggregate{OrgID: org, Type: domain.AggregateAccess, ID: org}
	actor := domain.Actor{
		TokenID: "44444444-4444-4444-4444-444444444444", IP: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
		UserAgent: strings.Repeat("\u00e9", 256), // 512 bytes, the API's bound (httpapi maxUserAgent)
	}
	stream, err := jetstream.New(env.Conn)
	if err != nil {
		t.Fatal(err)
	}
	st, err := stream.Stream(ctx, eventstore.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	size := func(ev domain.SecretsFetched) int {
		t.Helper()
		rec, err := env.Store.Append(ctx, eventstore.Pending{Aggregate: agg, Unchecked: true, Events: []domain.Event{ev}, Actor: actor})
		if err != nil {
			t.Fatalf("append a fetch of %d values: %v", ev.Fetched(), err)
		}
		msg, err := st.GetMsg(ctx, rec.Seq())
		if err != nil {
			t.Fatal(err)
		}
		n := len(msg.Data) + len(msg.Subject)
		for k, vs := range msg.Header {
			for _, v := range vs {
				n += len(k) + len(v) + 4
			}
		}
		return n
	}

	worst := domain.NewSecretsFetched(domain.Production, names[:domain.MaxFetchedNames], 0)
	if len(worst.Names) != domain.MaxFetchedNames || worst.NamesSHA256 != "" {
		t.Fatalf("a fetch of exactly the bound lists its names: %d names, digest %q", len(worst.Names), worst.NamesSHA256)
	}
	if n := size(worst); n >= natsDefaultMaxPayload {
		t.Fatalf("the worst listed fetch is a %d-byte message, over NATS's default maximum of %d", n, natsDefaultMaxPayload)
	} else {
		t.Logf("worst listed fetch (%d names of %d bytes): %d-byte message", domain.MaxFetchedNames, domain.MaxSecretNameLength, n)
	}

	big := domain.NewSecretsFetched(domain.Production, names, 0)
	if len(big.Names) != 0 || big.Count != many || big.NamesSHA256 != domain.FetchedNamesDigest(names) {
		t.Fatalf("a fetch past the bound records its count and digest: %d names, count %d", len(big.Names), big.Count)
	}
	if n := size(big); n >= natsDefaultMaxPayload {
		t.Fatalf("a fetch of %d values is a %d-byte message", many, n)
	}
	// What the fetch used to record: every name, in one message the server refuses.
	unbounded := domain.SecretsFetched{Env: domain.Production, Names: names}
	if _, err := env.Store.Append(ctx, eventstore.Pending{Aggregate: agg, Unchecked: true, Events: []domain.Event{unbounded}, Actor: actor}); err == nil {
		t.Fatalf("the unbounded event of %d names was accepted: the log's maximum message is not what this test assumes", many)
	}
}
