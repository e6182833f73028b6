package eventstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// A KV Get is a direct get, which any replica of an R3 bucket may answer, a lagging
// one included: right after another replica created a key, a Get can say "not found".
// For most buckets a retry mends that; for data keys "not found" would mean "this
// organization's history cannot be opened", so a miss there is confirmed with the
// stream leader, which answers the plain (non-direct) message-get API.

// leaderGetter reads a KV entry from the stream leader.
type leaderGetter struct {
	js     jetstream.JetStream
	bucket string
}

type msgGetResponse struct {
	Message *struct {
		Data []byte `json:"data"`
		Hdrs []byte `json:"hdrs"`
	} `json:"message"`
	Error *struct {
		Code    int    `json:"code"`
		ErrCode int    `json:"err_code"`
		Desc    string `json:"description"`
	} `json:"error"`
}

// errNoMessage is the API's "no message found" (10037).
const errNoMessage = 10037

// get returns key's value as the leader holds it, and false when it has none (or the
// last operation on it was a delete or purge).
func (g leaderGetter) get(ctx context.Context, key string) ([]byte, bool, error) {
	req, err := json.Marshal(map[string]string{"last_by_subj": "$KV." + g.bucket + "." + key})
	if err != nil {
		return nil, false, err
	}
	msg, err := g.js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+g.bucket, req)
	if err != nil {
		return nil, false, fmt.Errorf("leader get %s: %w", key, err)
	}
	var resp msgGetResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, false, fmt.Errorf("leader get %s: %w", key, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == errNoMessage:
		return nil, false, nil
	case resp.Error != nil:
		return nil, false, fmt.Errorf("leader get %s: %w", key, errors.New(resp.Error.Desc))
	case resp.Message == nil:
		return nil, false, fmt.Errorf("leader get %s: empty answer", key)
	case bytes.Contains(resp.Message.Hdrs, []byte("KV-Operation")):
		return nil, false, nil // a delete or purge marker
	}
	return resp.Message.Data, true, nil
}
