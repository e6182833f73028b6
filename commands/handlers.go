package commands

import (
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/reservation"
)

// Handlers is every command handler, wired to one event store. It is built once in
// cmd/keyledger and handed to the HTTP layer.
type Handlers struct {
	RegisterUser       *RegisterUserHandler
	Authenticate       *AuthenticateHandler
	CreateOrganization *CreateOrganizationHandler
	UpdateOrganization *UpdateOrganizationHandler
	DataKeys           *DataKeysHandler
	EraseOrganization  *EraseOrganizationHandler
	AddMember          *AddMemberHandler
	ChangeMemberRole   *ChangeMemberRoleHandler
	RemoveMember       *RemoveMemberHandler
	CreateSecret       *CreateSecretHandler
	UpdateSecret       *UpdateSecretHandler
	DeleteSecret       *DeleteSecretHandler
	RevealSecret       *RevealSecretHandler
	RollbackSecret     *RollbackSecretHandler
	CreateServiceToken *CreateServiceTokenHandler
	RevokeServiceToken *RevokeServiceTokenHandler
	PersonalTokens     *PersonalTokenHandler
	AuthenticateToken  *AuthenticateTokenHandler
	CreateWebhook      *CreateWebhookHandler
	DeleteWebhook      *DeleteWebhookHandler
}

// New wires every handler to store, its keyring and the name reservations. The
// handlers share one aggregate cache (cachedLog) over the store: recently used
// organizations, secrets and users stay in memory, and commands on one secret take
// turns.
func New(store *eventstore.Store, names *reservation.Reservations, now func() time.Time) *Handlers {
	if now == nil {
		now = time.Now
	}
	keys := store.Keyring()
	log := newCachedLog(store, CacheSize, SecretCacheSize)
	return &Handlers{
		RegisterUser:       NewRegisterUserHandler(log),
		Authenticate:       NewAuthenticateHandler(log),
		CreateOrganization: NewCreateOrganizationHandler(log),
		UpdateOrganization: NewUpdateOrganizationHandler(log),
		DataKeys:           NewDataKeysHandler(log, keys),
		EraseOrganization:  NewEraseOrganizationHandler(log, store),
		AddMember:          NewAddMemberHandler(log),
		ChangeMemberRole:   NewChangeMemberRoleHandler(log),
		RemoveMember:       NewRemoveMemberHandler(log),
		CreateSecret:       NewCreateSecretHandler(log, keys, names, now),
		UpdateSecret:       NewUpdateSecretHandler(log, keys),
		DeleteSecret:       NewDeleteSecretHandler(log, names),
		RevealSecret:       NewRevealSecretHandler(log, keys),
		RollbackSecret:     NewRollbackSecretHandler(log, keys),
		CreateServiceToken: NewCreateServiceTokenHandler(log, now),
		RevokeServiceToken: NewRevokeServiceTokenHandler(log),
		PersonalTokens:     NewPersonalTokenHandler(log, now),
		AuthenticateToken:  NewAuthenticateTokenHandler(log, store, now),
		CreateWebhook:      NewCreateWebhookHandler(log),
		DeleteWebhook:      NewDeleteWebhookHandler(log),
	}
}
