// The destructive button of the delete dialog stays disabled until the user has typed the
// confirmation word exactly: no trimming, no case folding, so that it is always deliberate.

import { isTypedConfirmed } from '../ui/TypedConfirmField';

export const DELETE_CONFIRMATION_WORD = 'delete';

export function isDeleteConfirmed(typed: string): boolean {
  return isTypedConfirmed(typed, DELETE_CONFIRMATION_WORD);
}
