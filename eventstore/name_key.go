package eventstore

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/aead/aesgcm"
	"github.com/tink-crypto/tink-go/v2/insecuresecretdataaccess"
)

// nameKeyInfo separates the name key from every other use of the data key it derives
// from (HKDF's info): a MAC key and an encryption key never coincide.
const nameKeyInfo = "keyledger name key v1"

// NameKey is scope's key for keyed hashes of names (the reservation keys that keep
// secret names unique, anything else derived from a name and stored outside a sealed
// payload): HKDF-SHA256 of the scope's first data key. Rotation adds versions and
// keeps the first, rewrapping changes only how it is stored, so every replica derives
// the same key for as long as the scope lives; erasure destroys it with the rest, and
// what was hashed under it can no longer be confirmed by a dictionary. The scope's
// first key is made when it has none, as Seal does.
func (k *Keyring) NameKey(ctx context.Context, scope string) ([]byte, error) {
	sk, err := k.keys(ctx, scope, true)
	if err != nil {
		return nil, err
	}
	return sk.nameKey(scope)
}

// nameKey derives scope's name key from its first version, once per cached keyset.
func (sk *scopeKeys) nameKey(scope string) ([]byte, error) {
	sk.nameOnce.Do(func() {
		sk.name, sk.nameErr = deriveNameKey(sk, scope)
	})
	return sk.name, sk.nameErr
}

func deriveNameKey(sk *scopeKeys, scope string) ([]byte, error) {
	if len(sk.versions) == 0 {
		return nil, fmt.Errorf("name key %s: no data key version: %w", scope, ErrNoKey)
	}
	first := sk.versions[0]
	for _, v := range sk.versions[1:] {
		if v.Version < first.Version {
			first = v
		}
	}
	for i := range sk.handle.Len() {
		e, err := sk.handle.Entry(i)
		if err != nil {
			return nil, fmt.Errorf("name key %s: %w", scope, err)
		}
		if e.KeyID() != first.KeyID {
			continue
		}
		key, ok := e.Key().(*aesgcm.Key)
		if !ok {
			return nil, fmt.Errorf("name key %s: version %d is a %T: %w", scope, first.Version, e.Key(), ErrDecrypt)
		}
		secret := key.KeyBytes().Data(insecuresecretdataaccess.Token{})
		nk, err := hkdf.Key(sha256.New, secret, []byte(scope), nameKeyInfo, 32)
		if err != nil {
			return nil, fmt.Errorf("name key %s: %w", scope, err)
		}
		return nk, nil
	}
	return nil, fmt.Errorf("name key %s: version %d is not in the keyset: %w", scope, first.Version, ErrDecrypt)
}
