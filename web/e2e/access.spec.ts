import { Api, expect, logIn, openSecrets, secretRow, test } from './fixtures';
import { expectAccessible } from './axe';

test('Who has access lists people with their role, tokens with their scope, and what each can do', async ({ page, owner, org }) => {
  const editor = await Api.signup('Eddie Editor');
  const viewer = await Api.signup('Vera Viewer');
  await owner.addMember(org.id, editor.user.email, 'editor');
  await owner.addMember(org.id, viewer.user.email, 'viewer');
  await owner.createSecret(org.id, 'PAYMENTS_KEY', { production: 'pk_live_0123456789abcdef' });
  await owner.call('POST', `/orgs/${org.id}/service-tokens`, { name: 'deploy-bot', environments: ['production', 'staging'] }, 201);
  const revoked = await owner.call<{ id: string }>('POST', `/orgs/${org.id}/service-tokens`, { name: 'old-ci', environments: ['development'] }, 201);
  await owner.call('DELETE', `/orgs/${org.id}/service-tokens/${revoked.id}`, undefined, 204);

  await logIn(page, owner.user.email);
  await openSecrets(page, org.id, 'all');
  await secretRow(page, 'PAYMENTS_KEY').getByRole('gridcell', { name: 'PAYMENTS_KEY' }).click();
  const dialog = page.getByRole('dialog', { name: 'PAYMENTS_KEY' });
  await dialog.getByRole('tab', { name: 'Who has access' }).click();
  const section = dialog.getByRole('region', { name: 'Who has access' });

  // The three members, and the server's bootstrap super-admin, who acts in every organization.
  const people = section.getByRole('table', { name: 'People (4)' });
  await expect(people).toBeVisible();
  const row = (email: string) => people.getByRole('row').filter({ hasText: email });
  await expect(row(process.env.KEYLEDGER_E2E_ADMIN_EMAIL ?? 'no admin email').getByRole('cell').nth(1)).toHaveText('Super-admin');
  await expect(row(owner.user.email)).toContainText('Olivia Owner');
  await expect(row(owner.user.email)).toContainText('owner of this secret');
  await expect(row(owner.user.email).getByRole('cell').nth(1)).toHaveText('Owner');
  await expect(row(owner.user.email).getByRole('cell').nth(2)).toHaveText('RevealModifyDeleteFetch');
  // An editor changes only the secrets it owns.
  await expect(row(editor.user.email).getByRole('cell').nth(1)).toHaveText('Editor');
  await expect(row(editor.user.email).getByRole('cell').nth(2)).toHaveText('RevealFetch');
  await expect(row(viewer.user.email).getByRole('cell').nth(1)).toHaveText('Viewer');

  const tokens = section.getByRole('table', { name: 'Service tokens (1)' });
  const bot = tokens.getByRole('row').filter({ hasText: 'deploy-bot' });
  await expect(bot).toContainText('Staging');
  await expect(bot).toContainText('Production');
  await expect(bot.getByRole('cell').last()).toHaveText('Fetch');
  await expect(tokens).not.toContainText('old-ci');
  await expectAccessible(page, 'the Who has access tab');

  // Reveals disabled: people keep modify and delete, lose reveal and fetch; integrations keep fetching.
  await owner.call('PATCH', `/orgs/${org.id}`, { reveal_policy: 'disabled' }, 200);
  await dialog.getByRole('tab', { name: 'Details' }).click();
  await dialog.getByRole('tab', { name: 'Who has access' }).click();
  await expect(row(owner.user.email).getByRole('cell').nth(2)).toHaveText('ModifyDelete');
  await expect(row(viewer.user.email).getByRole('cell').nth(2)).toHaveText('View only (masked)');
  await expect(bot.getByRole('cell').last()).toHaveText('Fetch');
  await editor.dispose();
  await viewer.dispose();
});

test('Who has access is not offered to an editor', async ({ page, owner, org }) => {
  const editor = await Api.signup('Edna Editor');
  await owner.addMember(org.id, editor.user.email, 'editor');
  await editor.createSecret(org.id, 'EDNAS_KEY', { development: 'dev-value-0123' });
  await logIn(page, editor.user.email);
  await openSecrets(page, org.id, 'all');
  await secretRow(page, 'EDNAS_KEY').getByRole('gridcell', { name: 'EDNAS_KEY' }).click();
  const dialog = page.getByRole('dialog', { name: 'EDNAS_KEY' });
  await expect(dialog.getByRole('tab', { name: 'Version history' })).toBeVisible();
  await expect(dialog.getByRole('tab', { name: 'Who has access' })).toHaveCount(0);
  await editor.call('GET', `/orgs/${org.id}/access?secret_id=00000000-0000-0000-0000-000000000000`, undefined, 403);
  await editor.dispose();
});

test.describe('Who has access in the dark theme', () => {
  test.use({ colorScheme: 'dark' });
  test('passes axe', async ({ page, owner, org }) => {
    await owner.createSecret(org.id, 'DARK_KEY', { staging: 'stg-value-0123' });
    await owner.call('POST', `/orgs/${org.id}/service-tokens`, { name: 'night-bot', environments: ['staging'] }, 201);
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id, 'all');
    await secretRow(page, 'DARK_KEY').getByRole('gridcell', { name: 'DARK_KEY' }).click();
    const dialog = page.getByRole('dialog', { name: 'DARK_KEY' });
    await dialog.getByRole('tab', { name: 'Who has access' }).click();
    await expect(dialog.getByRole('table', { name: 'Service tokens (1)' })).toContainText('night-bot');
    await expectAccessible(page, 'the Who has access tab (dark)');
  });
});
