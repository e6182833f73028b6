import { Api, expect, logIn, test } from './fixtures';

test.describe('Members', () => {
  test('invite by email, change the role, remove', async ({ page, owner, org }) => {
    const newcomer = await Api.signup('Mia Member');
    await logIn(page, owner.user.email);
    await page.goto(`/orgs/${org.id}/members`);
    await expect(page.getByRole('heading', { name: 'Members', level: 1 })).toBeVisible();
    const table = page.getByRole('table');
    await expect(table.getByRole('row').filter({ hasText: owner.user.email })).toContainText('you');

    await page.getByRole('textbox', { name: 'Email' }).fill(newcomer.user.email);
    await page.getByRole('combobox', { name: 'Role', exact: true }).selectOption({ label: 'Viewer' });
    await page.getByRole('button', { name: 'Invite member' }).click();
    await expect(page.getByRole('status').filter({ hasText: `Added ${newcomer.user.email} as Viewer` })).toBeVisible();
    const row = table.getByRole('row').filter({ hasText: newcomer.user.email });
    await expect(row.getByRole('combobox', { name: `Role of ${newcomer.user.email}` })).toHaveValue('viewer');

    await row.getByRole('combobox', { name: `Role of ${newcomer.user.email}` }).selectOption({ label: 'Editor' });
    await expect(page.getByRole('status').filter({ hasText: 'Mia Member is now Editor' })).toBeVisible();
    const me = await newcomer.call<{ memberships: { org_id: string; role: string }[] }>('GET', '/me');
    expect(me.memberships.find((m) => m.org_id === org.id)?.role).toBe('editor');

    await row.getByRole('button', { name: `Remove ${newcomer.user.email}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove member' });
    await dialog.getByRole('button', { name: 'Remove' }).click();
    await expect(page.getByRole('status').filter({ hasText: `Removed ${newcomer.user.email}` })).toBeVisible();
    await expect(table.getByRole('row').filter({ hasText: newcomer.user.email })).toHaveCount(0);
    await newcomer.dispose();
  });

  test('an unknown email is refused inline, and the last owner cannot be demoted', async ({ page, owner, org }) => {
    await logIn(page, owner.user.email);
    await page.goto(`/orgs/${org.id}/members`);
    await page.getByRole('textbox', { name: 'Email' }).fill('nobody-here@e2e.keyledger.test');
    await page.getByRole('button', { name: 'Invite member' }).click();
    await expect(page.locator('.invite-form').getByRole('alert')).toBeVisible();
    await expect(page.getByRole('combobox', { name: `Role of ${owner.user.email}` })).toBeDisabled();
    await expect(page.getByRole('button', { name: `Remove ${owner.user.email}` })).toBeDisabled();
  });
});
