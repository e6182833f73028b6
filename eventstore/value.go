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

// appendValueAAD appends to b what binds a sealed value to where it belongs.
func appendValueAAD(b []byte, r ValueRef) []byte {
	b = append(b, "keyledger/value/"...)
	b = append(b, r.OrgID...)
	b = append(b, '/')
	b = append(b, r.SecretID...)
	b = append(b, '/')
	b = append(b, r.Env...)
	b = append(b, '/')
	return strconv.AppendInt(b, int64(r.ValueVersion), 10)
}

// SealValue encrypts a secret value on its own, with the organization's data key.
func (k *Keyring) SealValue(ctx context.Context, ref ValueRef, v domain.Plaintext) (string, error) {
	s, err := k.Seal(ctx, ref.OrgID, []byte(v.Reveal()), appendValueAAD(nil, ref))
	if err != nil {
		return "", fmt.Errorf("seal value: %w", err)
	}
	return s, nil
}

// OpenValue decrypts a sealed secret value. Only the API edge calls it, for an
// authorized, audited reveal or fetch.
func (k *Keyring) OpenValue(ctx context.Context, ref ValueRef, sealed string) (domain.Plaintext, error) {
	b, err := k.ValueOpener().Open(ctx, ref, sealed)
	if err != nil {
		return domain.Plaintext{}, err
	}
	return domain.NewPlaintext(string(b)), nil
}

// ValueOpener opens many values one after the other, reusing its buffers for the
// associated data and the ciphertext: opening a value alone makes seven objects (the
// associated data, the ciphertext, the value, its string and its Plaintext among them),
// an opener one, the value (TestValueOpenerOpensAsOpenValueWithFewerObjects). A fetch
// of an environment's 100,000 values opens them with one. Not safe for concurrent use.
type ValueOpener struct {
	k       *Keyring
	aad, ct []byte
}

// ValueOpener returns an opener of values sealed by k.
func (k *Keyring) ValueOpener() *ValueOpener { return &ValueOpener{k: k} }

// Open decrypts a sealed secret value, as Keyring.OpenValue does, into a new slice.
func (o *ValueOpener) Open(ctx context.Context, ref ValueRef, sealed string) ([]byte, error) {
	o.aad = appendValueAAD(o.aad[:0], ref)
	version, ct, ok := parseSealed(sealed, o.ct)
	if !ok {
		return nil, fmt.Errorf("open value: %w", ErrDecrypt)
	}
	o.ct = ct
	b, err := o.k.openCiphertext(ctx, ref.OrgID, version, ct, o.aad)
	if err != nil {
		return nil, fmt.Errorf("open value: %w", err)
	}
	return b, nil
}
