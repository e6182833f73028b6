package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// applySecret projects secret events into the grid (secrets, secret_values) and the
// version history (secret_versions). Writes are queued on w; only what a change notice
// needs (the version before) is read.
func (db *writer) applySecret(ctx context.Context, r domain.Recorded, notes *notices, w *batchTx) error {
	org, id := r.OrgID, r.AggregateID
	w.nextSecretEvent(r.Seq)
	// A rebuild's batch may fold the secret's rows in memory (rebuild_fold.go).
	var f *foldedSecret
	if gridSecretEvent(r.Event) {
		f = w.foldOf(r)
	}
	switch e := r.Event.(type) {
	case domain.SecretCreated:
		name, err := db.sealSecretName(ctx, w, org, id, string(e.Name))
		if err != nil {
			return err
		}
		desc, err := db.keys.Seal(ctx, org, []byte(e.Description), descriptionAAD(org, id))
		if err != nil {
			return err
		}
		if f != nil {
			f.create(r, name, desc, e.OwnerID)
		} else {
			w.createSecret(r, name, desc, e.OwnerID)
		}
		for _, env := range sortedEnvs(keys(e.Values)) {
			if err := setValue(r, env, e.Values[env], "created", notes, w, f); err != nil {
				return err
			}
		}
		if len(e.Values) == 0 {
			notes.add(r, "secret.created", "", 0, 0)
		}
		return nil
	case domain.SecretUpdated:
		if e.Description != nil {
			desc, err := db.keys.Seal(ctx, org, []byte(*e.Description), descriptionAAD(org, id))
			if err != nil {
				return err
			}
			if f != nil {
				f.describe(desc)
			} else {
				w.exec(`UPDATE secrets SET description_sealed = $3 WHERE org_id = $1 AND id = $2`, org, id, desc)
			}
			if len(e.Set) == 0 && len(e.Removed) == 0 {
				notes.add(r, "secret.updated", "", 0, 0)
			}
		}
		for _, env := range sortedEnvs(keys(e.Set)) {
			if err := setValue(r, env, e.Set[env], "updated", notes, w, f); err != nil {
				return err
			}
		}
		for _, env := range e.Removed {
			if err := removeValue(r, env, notes, w, f); err != nil {
				return err
			}
		}
		bumpSecret(r, w, f)
	case domain.SecretValueDeleted:
		if err := removeValue(r, e.Env, notes, w, f); err != nil {
			return err
		}
		bumpSecret(r, w, f)
	case domain.SecretRolledBack:
		if err := setValue(r, e.Env, e.Value, "rolled_back", notes, w, f); err != nil {
			return err
		}
		bumpSecret(r, w, f)
	case domain.SecretDeleted:
		return deleteSecret(r, notes, w, f)
	}
	return nil
}

func deleteSecret(r domain.Recorded, notes *notices, w *batchTx, f *foldedSecret) error {
	for _, env := range domain.Environments() {
		delete(w.values, valueKey(r, env))
	}
	if f != nil {
		// Folded (a rebuild's batch, no notices): its rows go in memory.
		f.remove()
	} else if notes == nil {
		// No change notices to write (a rebuild): what the rows held does not matter,
		// and a queued statement saves the batch a round trip to Postgres.
		w.exec(`DELETE FROM secret_values WHERE org_id = $1 AND secret_id = $2`, r.OrgID, r.AggregateID)
	} else if err := deleteValuesNoticed(r, notes, w); err != nil {
		return err
	}
	if f == nil {
		w.exec(`DELETE FROM secrets WHERE org_id = $1 AND id = $2`, r.OrgID, r.AggregateID)
	}
	if w.db.bulk {
		// A rebuild copies the tombstone at the next sync (rebuild_fold.go).
		w.insertDeletion(r)
		return nil
	}
	w.exec(`INSERT INTO secret_deletions (org_id, secret_id, seq) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, r.OrgID, r.AggregateID, int64(r.Seq))
	return nil
}

// deleteValuesNoticed deletes a secret's values and notes each one that was set.
func deleteValuesNoticed(r domain.Recorded, notes *notices, w *batchTx) error {
	rows, err := w.query(`WITH gone AS (DELETE FROM secret_values WHERE org_id = $1 AND secret_id = $2 RETURNING env, version, is_set)
		SELECT env, version, is_set FROM gone ORDER BY array_position(ARRAY['development', 'staging', 'production'], env)`, r.OrgID, r.AggregateID)
	if err != nil {
		return fmt.Errorf("delete secret: %w", err)
	}
	removed, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (oldValue, error) {
		var o oldValue
		return o, row.Scan(&o.env, &o.version, &o.set)
	})
	if err != nil {
		return fmt.Errorf("delete secret: %w", err)
	}
	deletedValue := false
	for _, o := range removed {
		if o.set {
			notes.add(r, "secret.deleted", domain.Environment(o.env), o.version, 0)
			deletedValue = true
		}
	}
	if !deletedValue {
		notes.add(r, "secret.deleted", "", 0, 0)
	}
	return nil
}

func bumpSecret(r domain.Recorded, w *batchTx, f *foldedSecret) {
	if f != nil {
		f.bump(r)
		return
	}
	w.bumpSecret(r)
}

type oldValue struct {
	env     string
	version int
	set     bool
}

// valueState is one environment's value version as the batch left it.
type valueState struct {
	version int
	set     bool
}

func valueKey(r domain.Recorded, env domain.Environment) string {
	return r.OrgID + "/" + r.AggregateID + "/" + string(env)
}

// prefetchValueVersions reads, in one round trip, the value versions that the batch's
// change notices will name as replaced: each update or rollback of a value the batch
// did not write first. One query per event made a batch of updates of different
// secrets a round trip per event, in the path every write's answer waits for (the
// projector's batch); the notices of one secret's updates already chained in memory.
func (r *batchTx) prefetchValueVersions(recs []domain.Recorded) error {
	var orgs, ids, envs []string
	asked := map[string]bool{}
	want := func(rec domain.Recorded, env domain.Environment) {
		key := valueKey(rec, env)
		if asked[key] || !isUUID(rec.OrgID) || !isUUID(rec.AggregateID) {
			return
		}
		asked[key] = true
		if _, ok := r.values[key]; !ok {
			orgs, ids, envs = append(orgs, rec.OrgID), append(ids, rec.AggregateID), append(envs, string(env))
		}
	}
	created := map[string]bool{}
	for _, rec := range recs {
		switch e := rec.Event.(type) {
		case domain.SecretCreated:
			// Its values are new: nothing to read, here or for later events of the batch.
			created[rec.OrgID+"/"+rec.AggregateID] = true
		case domain.SecretUpdated:
			if created[rec.OrgID+"/"+rec.AggregateID] {
				continue
			}
			for env := range e.Set {
				want(rec, env)
			}
		case domain.SecretRolledBack:
			if !created[rec.OrgID+"/"+rec.AggregateID] {
				want(rec, e.Env)
			}
		}
	}
	if len(ids) < 2 {
		return nil
	}
	r.db.valueReads.Add(1)
	rows, err := r.query(`SELECT want.org_id::text, want.secret_id::text, want.env, COALESCE(v.version, 0), COALESCE(v.is_set, false)
		FROM unnest($1::text[]::uuid[], $2::text[]::uuid[], $3::text[]) AS want(org_id, secret_id, env)
		LEFT JOIN secret_values v ON v.org_id = want.org_id AND v.secret_id = want.secret_id AND v.env = want.env`, orgs, ids, envs)
	if err != nil {
		return fmt.Errorf("value versions: %w", err)
	}
	type found struct {
		org, id, env string
		st           valueState
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (found, error) {
		var f found
		err := row.Scan(&f.org, &f.id, &f.env, &f.st.version, &f.st.set)
		return f, err
	})
	if err != nil {
		return fmt.Errorf("value versions: %w", err)
	}
	for _, f := range list {
		r.values[f.org+"/"+f.id+"/"+f.env] = f.st
	}
	return nil
}

// currentVersion is env's value version before a change, 0 when none is set: as an
// earlier event of the batch left it, else as Postgres has it.
func currentVersion(r domain.Recorded, env domain.Environment, w *batchTx) (int, error) {
	if st, ok := w.values[valueKey(r, env)]; ok {
		if !st.set {
			return 0, nil
		}
		return st.version, nil
	}
	var version int
	var set bool
	w.db.valueReads.Add(1)
	err := w.queryRow(`SELECT version, is_set FROM secret_values WHERE org_id = $1 AND secret_id = $2 AND env = $3`,
		r.OrgID, r.AggregateID, string(env)).Scan(&version, &set)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !set) {
		return 0, nil
	}
	return version, err
}

func setValue(r domain.Recorded, env domain.Environment, v domain.ValueVersion, action string, notes *notices, w *batchTx, f *foldedSecret) error {
	if notes != nil {
		// A secret being created has no value before (its id is new); any other
		// change reads the version it replaces, a round trip to Postgres.
		old := 0
		if action != "created" {
			var err error
			if old, err = currentVersion(r, env, w); err != nil {
				return fmt.Errorf("set value: %w", err)
			}
		}
		notes.add(r, "secret."+action, env, old, v.Version)
	}
	// The mask was made when the command ran; one recorded before masks hid control
	// characters may show some, and a grid must not.
	w.values[valueKey(r, env)] = valueState{version: v.Version, set: true}
	mask := domain.ReplaceControls(v.Mask)
	if f != nil {
		f.setValue(r, env, v.Version, mask, v.Sealed)
	} else {
		w.setValue(r, env, v.Version, mask, v.Sealed)
	}
	if v.Version == 1 {
		// An environment's first value is its creation, whichever command set it.
		action = "created"
	}
	recordVersion(r, env, v.Version, action, &mask, w)
	return nil
}

func removeValue(r domain.Recorded, env domain.Environment, notes *notices, w *batchTx, f *foldedSecret) error {
	var version int
	var err error
	if f != nil {
		version, err = f.removeValue(r, env)
	} else {
		err = w.queryRow(`UPDATE secret_values SET is_set = false, mask = NULL, sealed = NULL, updated_at = $4
		WHERE org_id = $1 AND secret_id = $2 AND env = $3 RETURNING version`, r.OrgID, r.AggregateID, string(env), r.Time).Scan(&version)
	}
	if err != nil {
		return fmt.Errorf("remove value: %w", err)
	}
	w.values[valueKey(r, env)] = valueState{version: version}
	notes.add(r, "secret.deleted", env, version, 0)
	recordVersion(r, env, version, "deleted", nil, w)
	return nil
}

func recordVersion(r domain.Recorded, env domain.Environment, version int, action string, mask *string, w *batchTx) {
	actor := r.Actor.UserID
	if actor == "" {
		actor = r.Actor.TokenID
	}
	if w.db.bulk {
		// A rebuild copies the row at the next sync (insertVersion).
		w.insertVersion(r, env, version, action, actor, mask)
		return
	}
	w.addVersion(r, env, version, action, actor, mask)
}
