import { expect, logIn, openSecrets, secretRow, test } from './fixtures';

test('version history lists each value version, and rollback makes a new version equal to an old one', async ({ page, owner, org }) => {
  const secret = await owner.createSecret(org.id, 'ROTATED_KEY', { production: 'first-production-value-1' });
  await owner.updateSecret(org.id, secret.id, { values: { production: 'second-production-value-2' } });
  await logIn(page, owner.user.email);
  await openSecrets(page, org.id, 'production');
  await secretRow(page, 'ROTATED_KEY').getByRole('gridcell', { name: 'ROTATED_KEY' }).click();
  const dialog = page.getByRole('dialog', { name: 'ROTATED_KEY' });
  await dialog.getByRole('tab', { name: 'Version history' }).click();
  const list = dialog.getByRole('list', { name: 'Production versions' });
  await expect(list.getByRole('listitem')).toHaveCount(2);
  await expect(list.getByRole('listitem').first()).toContainText('v2');
  await expect(list.getByRole('listitem').first()).toContainText('current');
  await expect(list.getByRole('listitem').last()).toContainText('Created');

  await dialog.getByRole('button', { name: 'Roll back to version 1' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Rolled back the Production value of ROTATED_KEY to version 1' })).toBeVisible();
  await expect(list.getByRole('listitem')).toHaveCount(3);
  await expect(list.getByRole('listitem').first()).toContainText('v3');
  await expect(list.getByRole('listitem').first()).toContainText('Rolled back');

  const revealed = await owner.call<{ value: string; version: number }>('POST', `/orgs/${org.id}/secrets/${secret.id}/reveal`, { env: 'production' });
  expect(revealed).toMatchObject({ value: 'first-production-value-1', version: 3 });
});
