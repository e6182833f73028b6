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

// New wires every handler to store, its keyring and the name reservations.
func New(store *eventstore.Store, names *reservation.Reservations, now func() time.Time) *Handlers {
	if now == nil {
		now = time.Now
	}
	keys := store.Keyring()
	return &Handlers{
		RegisterUser:       NewRegisterUserHandler(store),
		Authenticate:       NewAuthenticateHandler(store),
		CreateOrganization: NewCreateOrganizationHandler(store),
		UpdateOrganization: NewUpdateOrganizationHandler(store),
		DataKeys:           NewDataKeysHandler(store, keys),
		EraseOrganization:  NewEraseOrganizationHandler(store, store),
		AddMember:          NewAddMemberHandler(store),
		ChangeMemberRole:   NewChangeMemberRoleHandler(store),
		RemoveMember:       NewRemoveMemberHandler(store),
		CreateSecret:       NewCreateSecretHandler(store, keys, names, now),
		UpdateSecret:       NewUpdateSecretHandler(store, keys),
		DeleteSecret:       NewDeleteSecretHandler(store, names),
		RevealSecret:       NewRevealSecretHandler(store, keys),
		RollbackSecret:     NewRollbackSecretHandler(store, keys),
		CreateServiceToken: NewCreateServiceTokenHandler(store, now),
		RevokeServiceToken: NewRevokeServiceTokenHandler(store),
		PersonalTokens:     NewPersonalTokenHandler(store, now),
		AuthenticateToken:  NewAuthenticateTokenHandler(store, now),
		CreateWebhook:      NewCreateWebhookHandler(store),
		DeleteWebhook:      NewDeleteWebhookHandler(store),
	}
}
