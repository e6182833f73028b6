package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/eventstore/changefeed"
)

// The publisher's deletion of what it published costs what it deletes, not what it
// deleted before. The outbox is a queue: until a vacuum comes by (never here, as where
// autovacuum is off), its index and heap keep every row deleted, and a deletion "up to
// here" read all of them again each round (12-20 ms a round after 150,000 notices).
// Here 200 rounds of 100 rows staged and deleted: the last round's deletion reads
// about what the second round's did (the old one's grew round by round: 103 blocks in
// the second, 287 in the last), a sweep without bound still deletes what is below the
// publisher's bound, and every row is gone.
func TestOutboxDeletionDoesNotRereadWhatItDeleted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rm := openTestReadModels(t)
	var schema string
	if err := rm.writer.pool.QueryRow(ctx, `SELECT schema FROM `+pointerTable+` WHERE id = 1`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	table := pgx.Identifier{schema, "change_outbox"}.Sanitize()
	const rounds, perRound = 200, 100
	if _, err := rm.writer.pool.Exec(ctx, `ALTER TABLE `+table+` SET (autovacuum_enabled = false)`); err != nil {
		t.Fatal(err)
	}
	o := newOutbox(rm.writer, nil, nil)
	var blocks []int
	o.deleteRows = func(ctx context.Context, where string) error {
		var plan []struct {
			Plan struct {
				Hit  int `json:"Shared Hit Blocks"`
				Read int `json:"Shared Read Blocks"`
			} `json:"Plan"`
		}
		var out []byte
		if err := rm.writer.pool.QueryRow(ctx, `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) DELETE FROM `+table+` WHERE `+where).Scan(&out); err != nil {
			return err
		}
		if err := json.Unmarshal(out, &plan); err != nil || len(plan) != 1 {
			return fmt.Errorf("plan %s: %v", out, err)
		}
		blocks = append(blocks, plan[0].Plan.Hit+plan[0].Plan.Read)
		return nil
	}
	for i := 1; i <= rounds; i++ {
		// A batch's notices are staged, published, then deleted.
		if _, err := rm.writer.pool.Exec(ctx, `INSERT INTO `+table+` (seq, part, org_id, env, data)
			SELECT g, 0, '6f1c2d3e-0000-4000-8000-000000000001', 'production', '\x00'::bytea
			FROM generate_series($1::bigint, $2::bigint) g`, (i-1)*perRound+1, i*perRound); err != nil {
			t.Fatal(err)
		}
		if err := o.remove(ctx, changefeed.Position{Seq: uint64(i * perRound)}, false); err != nil {
			t.Fatal(err)
		}
	}
	second, last := blocks[1], blocks[len(blocks)-1]
	t.Logf("blocks read by a round's deletion: first %d, second %d, last %d", blocks[0], second, last)
	if last > 2*second+20 {
		t.Fatalf("the last round's deletion read %d blocks, the second's %d: it rereads what was deleted", last, second)
	}
	// Rows below the bound (a rebuild's switch carries over rows the old schema had
	// already lost) go with the next sweep.
	if _, err := rm.writer.pool.Exec(ctx, `INSERT INTO `+table+` (seq, part, org_id, env, data)
		VALUES (50, 0, '6f1c2d3e-0000-4000-8000-000000000001', 'production', '\x00'::bytea)`); err != nil {
		t.Fatal(err)
	}
	if err := o.remove(ctx, changefeed.Position{Seq: uint64(rounds * perRound)}, true); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := rm.writer.pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&left); err != nil || left != 0 {
		t.Fatalf("rows left in the outbox: %d %v", left, err)
	}
}

// recordingStream stores every notice it is given and records how many each
// PublishStored call was given.
type recordingStream struct {
	changeStream
	seq   uint64
	sizes []int
}

func (r *recordingStream) Tail(context.Context) (uint64, changefeed.Position, error) {
	return r.seq, changefeed.Position{}, nil
}

func (r *recordingStream) PublishStored(_ context.Context, after uint64, notices []changefeed.Stored) (int, uint64, error) {
	r.sizes = append(r.sizes, len(notices))
	r.seq = after + uint64(len(notices))
	return len(notices), r.seq, nil
}

// A backlog in the queue goes out a page at a time: the stream takes atomic batches of
// at most 1,000 messages, and sent whole, 1,234 notices were refused and went one
// synced message at a time.
func TestOutboxSendsABacklogAPageAtATime(t *testing.T) {
	t.Parallel()
	rs := &recordingStream{}
	o := newOutbox(&writer{}, rs, nil)
	o.fromTable = false
	var deleted []string
	o.deleteRows = func(_ context.Context, where string) error {
		deleted = append(deleted, where)
		return nil
	}
	const backlog = 1234
	notices := make([]changefeed.Stored, backlog)
	for i := range notices {
		notices[i] = changefeed.Stored{Seq: uint64(i + 1)}
	}
	o.committed(notices)
	if err := o.drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range rs.sizes {
		if n > outboxPage {
			t.Fatalf("a round sent %d notices at once (sizes %v), more than a page of %d", n, rs.sizes, outboxPage)
		}
		total += n
	}
	if total != backlog || rs.seq != backlog {
		t.Fatalf("sent %d notices in %v, the stream at %d; want %d", total, rs.sizes, rs.seq, backlog)
	}
	if len(deleted) != len(rs.sizes) || o.removed != (changefeed.Position{Seq: backlog}) {
		t.Fatalf("deletions %v, removed up to %+v", deleted, o.removed)
	}
}
