import { request } from '@playwright/test';
import { expect, logIn, serverUrl, test } from './fixtures';

test('a service token is shown once, works for its environment, and stops when revoked', async ({ page, owner, org }) => {
  await owner.createSecret(org.id, 'CI_DEPLOY_KEY', { production: 'ci-deploy-value-0001' });
  await logIn(page, owner.user.email);
  await page.goto(`/orgs/${org.id}/service-tokens`);
  await expect(page.getByText('No service tokens')).toBeVisible();
  await page.getByRole('button', { name: 'Create token' }).first().click();
  const create = page.getByRole('dialog', { name: 'Create service token' });
  await create.getByRole('textbox', { name: 'Token name' }).fill('github-actions');
  await expect(create.getByRole('checkbox', { name: 'Production' })).toBeChecked();
  await create.getByRole('button', { name: 'Create token' }).click();

  const shown = page.getByRole('dialog', { name: 'Token created' });
  const tokenBox = shown.getByRole('textbox', { name: 'Service token' });
  await expect(tokenBox).toHaveValue(/^kl_st_/);
  const token = await tokenBox.inputValue();
  await shown.getByRole('button', { name: 'Done' }).click();
  await expect(page.getByRole('table').getByRole('row').filter({ hasText: 'github-actions' })).toContainText('Production');
  await expect(page.getByText(token)).toHaveCount(0);

  const bearer = await request.newContext({ baseURL: serverUrl(), extraHTTPHeaders: { Authorization: `Bearer ${token}` } });
  const ok = await bearer.get(`/api/v1/orgs/${org.id}/environments/production/values`);
  expect(ok.status()).toBe(200);
  expect((await ok.json()).values).toMatchObject({ CI_DEPLOY_KEY: 'ci-deploy-value-0001' });

  await page.getByRole('button', { name: 'Revoke github-actions' }).click();
  await page.getByRole('dialog', { name: 'Revoke service token' }).getByRole('button', { name: 'Revoke' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Revoked github-actions' })).toBeVisible();
  await expect(page.getByRole('table')).toHaveCount(0);
  expect((await bearer.get(`/api/v1/orgs/${org.id}/environments/production/values`)).status()).toBe(401);
  await bearer.dispose();
});
