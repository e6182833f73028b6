import { chooseEnvironment, expect, logIn, openSecrets, secretRow, test } from './fixtures';

test.describe('deleting', () => {
  test('in an environment view, Delete removes only that environment value after typing "delete"', async ({ page, owner, org }) => {
    const secret = await owner.createSecret(org.id, 'DELETE_IN_PROD', { development: 'dev-keeps-0001', production: 'prod-goes-0001' });
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id, 'production');
    await secretRow(page, 'DELETE_IN_PROD').getByRole('button', { name: 'Delete secret' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete secret' });
    await expect(dialog).toContainText('deletes the Production value of DELETE_IN_PROD only');
    await expect(dialog).toContainText('Its Development value is kept.');
    await expect(dialog.getByRole('radio', { name: 'Only the Production value' })).toBeChecked();
    const confirm = dialog.getByRole('textbox', { name: 'Type delete to confirm' });
    const del = dialog.getByRole('button', { name: 'Delete', exact: true });
    await expect(del).toBeDisabled();
    for (const typed of ['DELETE', 'Delete', 'delet', 'delete ']) {
      await confirm.fill(typed);
      await expect(del).toBeDisabled();
    }
    await confirm.fill('delete');
    await expect(del).toBeEnabled();
    await del.click();
    await expect(page.getByRole('status').filter({ hasText: 'Deleted the Production value of DELETE_IN_PROD' })).toBeVisible();
    await expect(page.getByRole('gridcell', { name: 'DELETE_IN_PROD' })).toHaveCount(0);

    const after = await owner.getSecret(org.id, secret.id);
    expect(after.environments.production.set).toBe(false);
    expect(after.environments.development.set).toBe(true);
    await chooseEnvironment(page, 'Development');
    await expect(secretRow(page, 'DELETE_IN_PROD')).toBeVisible();
  });

  test('in All environments, Delete removes the whole secret and frees its name', async ({ page, owner, org }) => {
    await owner.createSecret(org.id, 'DELETE_ALL', { development: 'a-0001', staging: 'b-0001', production: 'c-0001' });
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id, 'all');
    await secretRow(page, 'DELETE_ALL').getByRole('button', { name: 'Delete secret' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete secret' });
    await expect(dialog).toContainText('This deletes DELETE_ALL in every environment');
    await expect(dialog.getByRole('radio')).toHaveCount(0);
    await dialog.getByRole('textbox', { name: 'Type delete to confirm' }).fill('delete');
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Deleted DELETE_ALL' })).toBeVisible();
    await expect(page.getByRole('gridcell', { name: 'DELETE_ALL' })).toHaveCount(0);
    expect((await owner.listSecrets(org.id)).items.map((s) => s.name)).not.toContain('DELETE_ALL');
    await owner.createSecret(org.id, 'DELETE_ALL', { development: 'again-0001' });
  });

  test('from an environment view the whole secret can be chosen explicitly', async ({ page, owner, org }) => {
    await owner.createSecret(org.id, 'DELETE_WHOLE', { development: 'd-0001', staging: 's-0001' });
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id, 'development');
    await secretRow(page, 'DELETE_WHOLE').getByRole('button', { name: 'Delete secret' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete secret' });
    await dialog.getByRole('radio', { name: 'The whole secret, in all environments' }).check();
    await expect(dialog).toContainText('in every environment');
    await dialog.getByRole('textbox', { name: 'Type delete to confirm' }).fill('delete');
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Deleted DELETE_WHOLE' })).toBeVisible();
    expect((await owner.listSecrets(org.id)).items.map((s) => s.name)).not.toContain('DELETE_WHOLE');
  });
});
