// Secret names are upper-case identifiers (API.md: ^[A-Z_][A-Z0-9_]{0,127}$). The Add dialog
// normalizes as the user types so that what they see is what the server will store.

export const SECRET_NAME_PATTERN = /^[A-Z_][A-Z0-9_]{0,127}$/;
export const SECRET_NAME_MAX = 128;

/** Upper-cases the typed text and turns spaces, dashes and dots into underscores. */
export function normalizeSecretNameInput(raw: string): string {
  return raw.toUpperCase().replace(/[\s\-.]/g, '_');
}

/** The reason a name would be refused, or undefined when it is valid. */
export function secretNameProblem(name: string): string | undefined {
  const trimmed = name.trim();
  if (trimmed === '') return 'Enter a name, for example STRIPE_SECRET_KEY.';
  if (trimmed.length > SECRET_NAME_MAX) return `Use at most ${SECRET_NAME_MAX} characters.`;
  if (/^[0-9]/.test(trimmed)) return 'A name cannot start with a digit.';
  if (!SECRET_NAME_PATTERN.test(trimmed)) return 'Use only letters, digits and underscores.';
  return undefined;
}
