import type { SecretOwner } from '../api';

/** The owner as UI.md names them: their name, else their email. */
export function ownerName(owner: SecretOwner | null | undefined): string {
  return owner?.name?.trim() || owner?.email || 'the owner';
}
