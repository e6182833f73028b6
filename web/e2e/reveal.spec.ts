import { expect, logIn, openSecrets, secretRow, serverUrl, test } from './fixtures';

const VALUE = 'sk_live_reveal_me_0123456789_abcdefghijklmnop';

test.describe('masked values', () => {
  test('reveal shows the plaintext, Hide value masks it again', async ({ page, owner, org }) => {
    await owner.createSecret(org.id, 'REVEAL_ME', { production: VALUE });
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id, 'production');
    const row = secretRow(page, 'REVEAL_ME');
    await expect(row).toContainText('sk_live_***mnop');
    await expect(row).not.toContainText(VALUE);
    await row.getByRole('button', { name: 'Reveal value' }).click();
    await expect(row).toContainText(VALUE);
    await row.getByRole('button', { name: 'Hide value' }).click();
    await expect(row).not.toContainText(VALUE);
    await expect(row.getByRole('button', { name: 'Reveal value' })).toBeVisible();
  });

  test('the row buttons are reachable with the keyboard', async ({ page, owner, org }) => {
    await owner.createSecret(org.id, 'KEYBOARD_ME', { production: VALUE });
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id, 'production');
    const row = secretRow(page, 'KEYBOARD_ME');
    await row.locator('[col-id="value"]').focus();
    await page.keyboard.press('Tab');
    await expect(row.getByRole('button', { name: 'Reveal value' })).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(row).toContainText(VALUE);
    await page.keyboard.press('Tab');
    await expect(row.getByRole('button', { name: 'Copy value' })).toBeFocused();
    await page.keyboard.press('Shift+Tab');
    await expect(row.getByRole('button', { name: 'Hide value' })).toBeFocused();
    await page.keyboard.press('Space');
    await expect(row).not.toContainText(VALUE);
  });

  test('a revealed value re-masks by itself after 30 seconds', async ({ page, owner, org }) => {
    await owner.createSecret(org.id, 'REMASK_ME', { production: VALUE });
    await page.clock.install();
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id, 'production');
    const row = secretRow(page, 'REMASK_ME');
    await row.getByRole('button', { name: 'Reveal value' }).click();
    await expect(row).toContainText(VALUE);
    await page.clock.fastForward(25_000);
    await expect(row).toContainText(VALUE);
    await expect(row.getByRole('button', { name: 'Hide value' })).toBeVisible();
    await page.clock.fastForward(6_000);
    await expect(row).not.toContainText(VALUE);
    await expect(row).toContainText('sk_live_***mnop');
    await expect(row.getByRole('button', { name: 'Reveal value' })).toBeVisible();
  });

  test('Copy value puts the plaintext on the clipboard without showing it', async ({ page, context, owner, org }) => {
    await owner.createSecret(org.id, 'COPY_ME', { development: VALUE });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: serverUrl() });
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id, 'development');
    const row = secretRow(page, 'COPY_ME');
    await row.getByRole('button', { name: 'Copy value' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Copied the Development value of COPY_ME' })).toBeVisible();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(VALUE);
    await expect(row).not.toContainText(VALUE);
  });
});
