package commands

import (
	"context"
	"fmt"
	"strconv"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// dataKeys is what the data-key commands need of the keyring.
type dataKeys interface {
	Rotate(ctx context.Context, scope string) (int, error)
	Versions(ctx context.Context, scope string) ([]eventstore.KeyVersion, error)
}

// RotateDataKey makes a new data-key version the organization's primary.
type RotateDataKey struct {
	OrgID string
}

// DataKeysHandler lists and rotates an organization's data-key versions. Both take an
// owner or an admin; other members get forbidden, strangers not found.
type DataKeysHandler struct {
	log  eventLog
	keys dataKeys
}

// NewDataKeysHandler wires the handler.
func NewDataKeysHandler(log eventLog, keys dataKeys) *DataKeysHandler {
	return &DataKeysHandler{log: log, keys: keys}
}

// List returns the organization's data-key versions, oldest first.
func (h *DataKeysHandler) List(ctx context.Context, m Meta, orgID string) ([]eventstore.KeyVersion, error) {
	lo, p, err := memberPrincipal(ctx, h.log, m, orgID)
	if err != nil {
		return nil, err
	}
	if err := lo.org.AuthorizeDataKeys(p); err != nil {
		return nil, err
	}
	vs, err := h.keys.Versions(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("data keys: %w", err)
	}
	return vs, nil
}

// Rotate rotates the organization's data key in the keyring, then records
// DataKeyRotated on the organization, so that the log shows who rotated to which
// version and when. It returns the new version. The keyring rotates once per call,
// however often the append has to be retried; a retried Idempotency-Key answers with
// the version its first request recorded.
func (h *DataKeysHandler) Rotate(ctx context.Context, m Meta, c RotateDataKey) (Result, int, error) {
	version := 0
	res, err := retry(ctx, func() (Result, error) {
		lo, p, err := memberPrincipal(ctx, h.log, m, c.OrgID)
		if err != nil {
			return Result{}, err
		}
		if seq, ok, err := m.replayed(lo.events); ok || err != nil {
			version = rotatedVersion(lo.events, seq)
			return Result{Seq: seq, ID: c.OrgID, Replayed: true}, err
		}
		if err := lo.org.AuthorizeDataKeys(p); err != nil {
			return Result{}, err
		}
		if version == 0 {
			if version, err = h.keys.Rotate(ctx, c.OrgID); err != nil {
				return Result{}, fmt.Errorf("rotate data key: %w", err)
			}
		}
		ev, err := lo.org.RotateDataKey(p, version)
		if err != nil {
			return Result{}, err
		}
		return appendOrgEvents(ctx, h.log, m, lo, []domain.Event{ev}, "rotate_data_key")
	})
	return res, version, err
}

// RecordAutomaticRotation records DataKeyRotated{Automatic: true} on the organization,
// for a rotation the keyring made by itself past its encryption limit (the keyring's
// RotationObserver). A scope that is no organization (the platform's) records nothing.
// The message id makes a repeated report of one rotation land once.
func (h *DataKeysHandler) RecordAutomaticRotation(ctx context.Context, orgID string, version int) error {
	if validID("organization", orgID) != nil {
		return nil
	}
	_, err := retry(ctx, func() (Result, error) {
		lo, err := loadOrganization(ctx, h.log, orgID)
		if err != nil || !lo.org.Exists() {
			return Result{}, err
		}
		ev, err := lo.org.RecordAutomaticDataKeyRotation(version)
		if err != nil {
			return Result{}, err
		}
		recs, err := h.log.Append(ctx, eventstore.Pending{
			Aggregate: orgAggregate(orgID), ExpectedSeq: lo.lastSeq, Position: lo.eventCount + 1,
			Events: []domain.Event{ev}, MsgID: eventstore.MessageID("auto_rotate_data_key", orgID, strconv.Itoa(version)),
		})
		if err != nil {
			return Result{}, err
		}
		return Result{Seq: recs.Seq(), ID: orgID}, nil
	})
	if err != nil {
		return fmt.Errorf("record automatic rotation of %s to version %d: %w", orgID, version, err)
	}
	return nil
}

// rotatedVersion finds the version a replayed rotation recorded at seq.
func rotatedVersion(events []domain.Recorded, seq uint64) int {
	for _, r := range events {
		if e, ok := r.Event.(domain.DataKeyRotated); ok && r.Seq == seq {
			return e.Version
		}
	}
	return 0
}
