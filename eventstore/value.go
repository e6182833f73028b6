package eventstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/keyledger/keyledger/domain"
)

// ValueRef names where a secret value belongs. It is the associated data of the value's
// ciphertext, so a sealed value copied to another secret, environment or version fails
// to open.
type ValueRef = domain.ValueRef

// valueAAD binds a sealed value to where it belongs.
func valueAAD(r ValueRef) []byte {
	return []byte("keyledger/value/" + r.OrgID + "/" + r.SecretID + "/" + string(r.Env) + "/" + strconv.Itoa(r.ValueVersion))
}

// SealValue encrypts a secret value on its own, with the organization's data key.
func (k *Keyring) SealValue(ctx context.Context, ref ValueRef, v domain.Plaintext) (string, error) {
	s, err := k.Seal(ctx, ref.OrgID, []byte(v.Reveal()), valueAAD(ref))
	if err != nil {
		return "", fmt.Errorf("seal value: %w", err)
	}
	return s, nil
}

// OpenValue decrypts a sealed secret value. Only the API edge calls it, for an
// authorized, audited reveal or fetch.
func (k *Keyring) OpenValue(ctx context.Context, ref ValueRef, sealed string) (domain.Plaintext, error) {
	b, err := k.Open(ctx, ref.OrgID, sealed, valueAAD(ref))
	if err != nil {
		return domain.Plaintext{}, fmt.Errorf("open value: %w", err)
	}
	return domain.NewPlaintext(string(b)), nil
}
