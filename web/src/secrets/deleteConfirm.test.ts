import { describe, expect, it } from 'vitest';
import { isDeleteConfirmed } from './deleteConfirm';

describe('isDeleteConfirmed', () => {
  it('accepts exactly "delete"', () => {
    expect(isDeleteConfirmed('delete')).toBe(true);
  });
  it.each(['', 'delet', 'Delete', 'DELETE', ' delete', 'delete ', 'deleted', 'remove'])('refuses %j', (typed) => {
    expect(isDeleteConfirmed(typed)).toBe(false);
  });
});
