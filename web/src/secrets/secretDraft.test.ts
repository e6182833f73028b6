import { describe, expect, it } from 'vitest';
import { changedFields, computeSecretPatch, draftFrom, withRemoved, withValue } from './secretDraft';
import { secretRow } from '../test-utils';

describe('dirty tracking of the secret detail view', () => {
  const row = secretRow();

  it('is clean when nothing was edited', () => {
    expect(computeSecretPatch(row, draftFrom(row))).toBeNull();
  });

  it('sends only the description when only it changed, with the expected version', () => {
    const draft = { ...draftFrom(row), description: 'Rotated monthly' };
    expect(computeSecretPatch(row, draft)).toEqual({ description: 'Rotated monthly', expected_version: 4 });
  });

  it('sends only the edited environment value', () => {
    const draft = withValue(draftFrom(row), 'production', 'sk_live_new');
    expect(computeSecretPatch(row, draft)).toEqual({ values: { production: 'sk_live_new' }, expected_version: 4 });
  });

  it('treats a value typed and erased again as unchanged', () => {
    const draft = withValue(withValue(draftFrom(row), 'staging', 'x'), 'staging', '');
    expect(computeSecretPatch(row, draft)).toBeNull();
  });

  it('treats a description edited back to the original as unchanged', () => {
    const draft = { ...draftFrom(row), description: row.description };
    expect(computeSecretPatch(row, draft)).toBeNull();
  });

  it('sends null to remove a value that is set', () => {
    const draft = withRemoved(draftFrom(row), 'development', true);
    expect(computeSecretPatch(row, draft)).toEqual({ values: { development: null }, expected_version: 4 });
  });

  it('ignores removing a value that is not set', () => {
    const draft = withRemoved(draftFrom(row), 'staging', true);
    expect(computeSecretPatch(row, draft)).toBeNull();
  });

  it('undoing a removal makes the draft clean again', () => {
    const draft = withRemoved(withRemoved(draftFrom(row), 'development', true), 'development', false);
    expect(computeSecretPatch(row, draft)).toBeNull();
  });

  it('combines several changes in one patch and names them', () => {
    let draft = { ...draftFrom(row), description: 'new' };
    draft = withValue(draft, 'staging', 'stg');
    draft = withRemoved(draft, 'production', true);
    const patch = computeSecretPatch(row, draft);
    expect(patch).toEqual({ description: 'new', values: { staging: 'stg', production: null }, expected_version: 4 });
    expect(changedFields(patch)).toEqual(['description', 'Staging value', 'Production value']);
  });

  it('treats a missing description as empty', () => {
    const bare = secretRow({ description: undefined as unknown as string });
    expect(computeSecretPatch(bare, draftFrom(bare))).toBeNull();
  });
});
