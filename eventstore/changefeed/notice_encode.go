package changefeed

import (
	"github.com/keyledger/keyledger/domain/jsonappend"
	"github.com/keyledger/keyledger/httpapi/wire"
)

// marshalSealedNotice is json.Marshal(n), byte for byte, errors included
// (TestMarshalSealedNoticeMatchesEncodingJSON), appended by hand: a create stores three
// notices, and encoding/json's reflection over each, with time.Time's MarshalJSON,
// allocated a copy of each on top of the bytes kept.
func marshalSealedNotice(n *wire.SealedChangeNotice) ([]byte, error) {
	// The keys, quotes and brackets take 148 bytes, the time up to 37 and the five
	// numbers up to 20 each: a buffer grown on the way (a notice is ~500 bytes) was
	// made two or three times.
	b := make([]byte, 0, 288+len(n.Type)+len(n.OrgID)+len(n.SecretID)+len(n.Name)+len(n.Env)+len(n.ActorID)+len(n.NameSealed))
	b = append(b, `{"type":`...)
	b = jsonappend.String(b, n.Type)
	b = append(b, `,"org_id":`...)
	b = jsonappend.String(b, n.OrgID)
	b = append(b, `,"secret_id":`...)
	b = jsonappend.String(b, n.SecretID)
	b = append(b, `,"name":`...)
	b = jsonappend.String(b, n.Name)
	b = append(b, `,"env":`...)
	b = jsonappend.String(b, n.Env)
	b = append(b, `,"old_version":`...)
	b = jsonappend.Int(b, int64(n.OldVersion))
	b = append(b, `,"new_version":`...)
	b = jsonappend.Int(b, int64(n.NewVersion))
	b = append(b, `,"actor_id":`...)
	b = jsonappend.String(b, n.ActorID)
	b = append(b, `,"at":`...)
	b, err := jsonappend.MarshaledTime(b, n.At)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"seq":`...)
	b = jsonappend.Uint(b, n.Seq)
	b = append(b, `,"part":`...)
	b = jsonappend.Int(b, int64(n.Part))
	b = append(b, `,"parts":`...)
	b = jsonappend.Int(b, int64(n.Parts))
	if n.NameSealed != "" {
		b = append(b, `,"name_sealed":`...)
		b = jsonappend.String(b, n.NameSealed)
	}
	return append(b, '}'), nil
}
