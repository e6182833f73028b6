// Dirty tracking for the secret detail view: the draft records what the user changed, and
// computeSecretPatch sends only those fields, guarded by the secret's version.
import { ENVIRONMENTS, type EnvSlug, type SecretPatch, type SecretRow, type ValuesPatch } from '../api';

export type ValueEdit = { kind: 'keep' } | { kind: 'set'; value: string } | { kind: 'remove' };

export interface SecretDraft {
  description: string;
  values: Record<EnvSlug, ValueEdit>;
}

const KEEP: ValueEdit = { kind: 'keep' };

export function draftFrom(row: Pick<SecretRow, 'description'>): SecretDraft {
  return {
    description: row.description ?? '',
    values: { development: KEEP, staging: KEEP, production: KEEP },
  };
}

/** Records a typed value; an empty field means "leave this environment as it is". */
export function withValue(draft: SecretDraft, env: EnvSlug, value: string): SecretDraft {
  const edit: ValueEdit = value === '' ? KEEP : { kind: 'set', value };
  return { ...draft, values: { ...draft.values, [env]: edit } };
}

export function withRemoved(draft: SecretDraft, env: EnvSlug, removed: boolean): SecretDraft {
  return { ...draft, values: { ...draft.values, [env]: removed ? { kind: 'remove' } : KEEP } };
}

/**
 * The PATCH body for what changed between the row and the draft, or null when nothing did.
 * Removing a value that is not set is not a change.
 */
export function computeSecretPatch(
  row: Pick<SecretRow, 'description' | 'version' | 'environments'>,
  draft: SecretDraft,
): SecretPatch | null {
  const patch: SecretPatch = {};
  if (draft.description !== (row.description ?? '')) patch.description = draft.description;
  const values: ValuesPatch = {};
  for (const { slug } of ENVIRONMENTS) {
    const edit = draft.values[slug];
    if (edit.kind === 'set') values[slug] = edit.value;
    if (edit.kind === 'remove' && row.environments[slug]?.set) values[slug] = null;
  }
  if (Object.keys(values).length > 0) patch.values = values;
  if (Object.keys(patch).length === 0) return null;
  patch.expected_version = row.version;
  return patch;
}

/** The names of the changed fields, for the "unsaved changes" hint. */
export function changedFields(patch: SecretPatch | null): string[] {
  if (!patch) return [];
  const names: string[] = [];
  if (patch.description !== undefined) names.push('description');
  for (const env of ENVIRONMENTS) {
    if (patch.values && env.slug in patch.values) names.push(`${env.name} value`);
  }
  return names;
}
