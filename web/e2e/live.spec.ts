import { Api, expect, logIn, openSecrets, secretRow, test } from './fixtures';

test("another user's changes appear in the grid without a reload", async ({ page, owner, org }) => {
  await owner.createSecret(org.id, 'LIVE_EXISTING', { development: 'live-0001' }, 'Before');
  const teammate = await Api.signup('Tess Teammate');
  await owner.addMember(org.id, teammate.user.email, 'admin');
  await logIn(page, owner.user.email);
  await openSecrets(page, org.id, 'all');
  await expect(secretRow(page, 'LIVE_EXISTING')).toContainText('Before');

  const created = await teammate.createSecret(org.id, 'LIVE_NEW_SECRET', { staging: 'live-new-0001' });
  await expect(secretRow(page, 'LIVE_NEW_SECRET')).toBeVisible({ timeout: 15_000 });
  await expect(secretRow(page, 'LIVE_NEW_SECRET').getByRole('gridcell')).toContainText(['LIVE_NEW_SECRET', '', 'No', 'Yes', 'No', 'Tess Teammate']);

  const existing = (await teammate.listSecrets(org.id)).items.find((s) => s.name === 'LIVE_EXISTING');
  await teammate.updateSecret(org.id, existing?.id ?? '', { description: 'Changed by Tess', values: { production: 'live-prod-0001' } });
  await expect(secretRow(page, 'LIVE_EXISTING')).toContainText('Changed by Tess', { timeout: 15_000 });
  await expect(secretRow(page, 'LIVE_EXISTING').getByRole('gridcell')).toContainText(['LIVE_EXISTING', 'Changed by Tess', 'Yes', 'No', 'Yes']);

  await teammate.call('DELETE', `/orgs/${org.id}/secrets/${created.id}`, undefined, 204);
  await expect(page.getByRole('gridcell', { name: 'LIVE_NEW_SECRET' })).toHaveCount(0, { timeout: 15_000 });
  await teammate.dispose();
});
