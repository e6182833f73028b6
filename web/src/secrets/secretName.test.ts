import { describe, expect, it } from 'vitest';
import { normalizeSecretNameInput, secretNameProblem } from './secretName';

describe('normalizeSecretNameInput', () => {
  it.each([
    ['stripe_secret_key', 'STRIPE_SECRET_KEY'],
    ['Stripe Secret Key', 'STRIPE_SECRET_KEY'],
    ['db-password', 'DB_PASSWORD'],
    ['api.token', 'API_TOKEN'],
    ['ALREADY_UPPER_1', 'ALREADY_UPPER_1'],
    ['', ''],
  ])('%j becomes %j', (typed, shown) => {
    expect(normalizeSecretNameInput(typed)).toBe(shown);
  });
});

describe('secretNameProblem', () => {
  it('accepts names the API accepts', () => {
    expect(secretNameProblem('STRIPE_SECRET_KEY')).toBeUndefined();
    expect(secretNameProblem('_PRIVATE')).toBeUndefined();
    expect(secretNameProblem('A'.repeat(128))).toBeUndefined();
  });
  it.each([
    ['', 'Enter a name'],
    ['1PASSWORD', 'cannot start with a digit'],
    ['KEY$', 'letters, digits and underscores'],
    ['A'.repeat(129), 'at most 128'],
  ])('refuses %j', (name, message) => {
    expect(secretNameProblem(name)).toContain(message);
  });
});
