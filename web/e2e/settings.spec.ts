import { expect, logIn, openSecrets, secretRow, test, uniq } from './fixtures';

test.describe('Settings', () => {
  test('renaming the organization updates the header dropdown', async ({ page, owner, org }) => {
    await logIn(page, owner.user.email);
    await page.goto(`/orgs/${org.id}/settings`);
    const name = page.getByRole('textbox', { name: 'Organization name' });
    await expect(name).toHaveValue(org.name);
    const renamed = uniq('Renamed ');
    await name.fill(renamed);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Settings saved' })).toBeVisible();
    await expect(page.getByRole('combobox', { name: 'Organization' }).locator('option:checked')).toHaveText(renamed);
  });

  test('a disabled reveal policy disables Reveal value and Copy value', async ({ page, owner, org }) => {
    await owner.createSecret(org.id, 'POLICY_KEY', { development: 'policy-value-0001' });
    await logIn(page, owner.user.email);
    await page.goto(`/orgs/${org.id}/settings`);
    await page.getByRole('radio', { name: /Disabled/ }).check();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Settings saved' })).toBeVisible();

    await openSecrets(page, org.id, 'development');
    const row = secretRow(page, 'POLICY_KEY');
    await expect(row.getByRole('button', { name: 'Reveal value' })).toBeDisabled();
    await expect(row.getByRole('button', { name: 'Reveal value' })).toHaveAccessibleDescription('Revealing values is disabled for this organization');
    await expect(row.getByRole('button', { name: 'Copy value' })).toBeDisabled();
    const denied = await owner.ctx.post(`/api/v1/orgs/${org.id}/secrets/${(await owner.listSecrets(org.id)).items[0]?.id}/reveal`, { data: { env: 'development' } });
    expect(denied.status()).toBe(403);
    expect((await denied.json()).code).toBe('reveal_disabled');
  });
});
