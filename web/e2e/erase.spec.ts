import { expectAccessible } from './axe';
import { Api, expect, logIn, test } from './fixtures';

test.describe('deleting an organization (crypto-shredding)', () => {
  test('the owner types the exact name, lands on another organization, and the erased one answers 404', async ({ page, owner, org }) => {
    const other = await owner.createOrg(`${org.name} (kept)`);
    await owner.createSecret(org.id, 'SHREDDED_KEY', { production: 'shredded-value-0001' }, 'shredded description');
    const admin = await Api.signup('Adam Admin');
    await owner.addMember(org.id, admin.user.email, 'admin');

    await logIn(page, owner.user.email);
    await page.goto(`/orgs/${org.id}/settings`);
    const opener = page.getByRole('button', { name: 'Delete organization' });
    await opener.click();
    const dialog = page.getByRole('dialog', { name: 'Delete organization' });
    await expect(dialog).toContainText('cannot be undone');
    await expectAccessible(page, 'the Delete organization dialog');
    const confirm = dialog.getByRole('textbox', { name: "Type the organization's name to confirm" });
    const del = dialog.getByRole('button', { name: 'Delete organization' });
    await expect(del).toBeDisabled();
    for (const typed of [org.name.toLowerCase(), `${org.name} `, org.name.slice(0, -1), 'delete']) {
      await confirm.fill(typed);
      await expect(del).toBeDisabled();
    }
    // Cancel leaves everything as it was and gives focus back to the opener.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(opener).toBeFocused();
    await owner.call('GET', `/orgs/${org.id}`, undefined, 200);

    await opener.click();
    await dialog.getByRole('textbox', { name: "Type the organization's name to confirm" }).fill(org.name);
    await expect(del).toBeEnabled();
    await del.click();
    await expect(page.getByRole('status').filter({ hasText: `Deleted ${org.name}` })).toBeVisible();
    await expect(page).toHaveURL(new RegExp(`/orgs/${other.id}/secrets`));
    await expect(page.getByRole('combobox', { name: 'Organization' }).locator('option')).toHaveText([other.name]);

    for (const path of [`/orgs/${org.id}`, `/orgs/${org.id}/secrets`, `/orgs/${org.id}/members`, `/orgs/${org.id}/audit`]) {
      await owner.call('GET', path, undefined, 404);
      await admin.call('GET', path, undefined, 404);
    }
    await admin.dispose();
  });

  test('admins do not get the danger zone, and the API refuses them', async ({ page, owner, org }) => {
    const admin = await Api.signup('Ada Admin');
    await owner.addMember(org.id, admin.user.email, 'admin');
    await logIn(page, admin.user.email);
    await page.goto(`/orgs/${org.id}/settings`);
    await expect(page.getByRole('textbox', { name: 'Organization name' })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Delete organization' })).toHaveCount(0);
    const refused = await admin.call<{ code: string }>('DELETE', `/orgs/${org.id}`, { confirm: org.name }, 403);
    expect(refused.code).toBe('forbidden');
    await owner.call('GET', `/orgs/${org.id}`, undefined, 200);
    await admin.dispose();
  });
});
