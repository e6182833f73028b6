package domain

import "context"

// ValueRef names one sealed value: which organization, secret, environment and value
// version it belongs to. Sealing binds the ciphertext to it, so a value copied to
// another place does not open.
type ValueRef struct {
	OrgID        string
	SecretID     string
	Env          Environment
	ValueVersion int
}

// ValueSealer is the port through which the domain seals and opens secret values while
// it decides: a new value must be sealed for the version the decision gives it, and "an
// unchanged value is not a new version" needs the current one opened. The keyring
// implements it; the domain never sees a key.
type ValueSealer interface {
	SealValue(ctx context.Context, ref ValueRef, v Plaintext) (string, error)
	OpenValue(ctx context.Context, ref ValueRef, sealed string) (Plaintext, error)
}

// sealNew seals v as version of env's value of secret s.
func sealNew(ctx context.Context, sealer ValueSealer, orgID, secretID string, env Environment, version int, v Plaintext) (ValueVersion, error) {
	sealed, err := sealer.SealValue(ctx, ValueRef{OrgID: orgID, SecretID: secretID, Env: env, ValueVersion: version}, v)
	if err != nil {
		return ValueVersion{}, err
	}
	return ValueVersion{Version: version, Mask: Mask(v), Sealed: sealed}, nil
}
