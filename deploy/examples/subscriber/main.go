// Command subscriber is a runnable example of a downstream service that follows
// Keyledger's change feed from NATS and survives its own downtime:
//
//	go run ./deploy/examples/subscriber --nats-url nats://127.0.0.1:4222 --org ORG_ID --env production --durable billing
//
// Stop it, change secrets, start it again: it prints every change it missed, in order,
// once. Notices carry no values, and on NATS no names either (the name is sealed with
// a key only Keyledger holds): they say which secret id changed. Fetch the new values
// with a service token (GET /api/v1/orgs/ORG/environments/ENV/values) when you need them.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/keyledger/keyledger/eventstore/subscriber"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	url := flag.String("nats-url", nats.DefaultURL, "the NATS cluster Keyledger uses (KEYLEDGER_NATS_URL)")
	org := flag.String("org", "", "organization id")
	env := flag.String("env", "", "environment (empty: all)")
	durable := flag.String("durable", "example-subscriber", "consumer name: the position is kept under it")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *url, subscriber.Options{OrgID: *org, Env: *env, Durable: *durable}); err != nil {
		fmt.Fprintln(os.Stderr, "subscriber:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url string, opts subscriber.Options) error {
	nc, err := nats.Connect(url, nats.Name("keyledger-subscriber-example"))
	if err != nil {
		return err
	}
	defer func() { _ = nc.Drain() }()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	return subscriber.Run(ctx, js, opts, func(_ context.Context, n wire.SealedChangeNotice) error {
		fmt.Printf("seq %d: %s secret %s in %s, version %d -> %d, by %s at %s\n",
			n.Seq, n.Type, n.SecretID, n.Env, n.OldVersion, n.NewVersion, n.ActorID, n.At.Format("15:04:05"))
		return nil
	})
}
