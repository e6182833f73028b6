import { expectAccessible } from './axe';
import { Api, expect, logIn, test } from './fixtures';

test.describe('Settings → Keys', () => {
  test('rotating the data key lists the new version as active and keeps old values readable', async ({ page, owner, org }) => {
    const secret = await owner.createSecret(org.id, 'KEYS_E2E', { production: 'sealed-before-rotation' });
    await logIn(page, owner.user.email);
    await page.goto(`/orgs/${org.id}/settings`);

    const versions = page.getByRole('table', { name: 'Data key versions' });
    await expect(versions.getByRole('row')).toHaveCount(2); // header + version 1
    await expect(versions.getByRole('row').nth(1)).toContainText('v1');
    await expect(versions.getByRole('row').nth(1)).toContainText('active');
    await expectAccessible(page, 'Settings with one data-key version');

    await page.getByRole('button', { name: 'Rotate data key' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Data key rotated: new data is sealed with version 2' })).toBeVisible();
    await expect(versions.getByRole('row')).toHaveCount(3);
    await expect(versions.getByRole('row').nth(1)).toContainText('v2');
    await expect(versions.getByRole('row').nth(1)).toContainText('active');
    await expect(versions.getByRole('row').nth(2)).toContainText('v1');
    await expect(versions.getByRole('row').nth(2)).toContainText('retired');

    // What was sealed under version 1 still opens.
    const revealed = await owner.call<{ value: string }>('POST', `/orgs/${org.id}/secrets/${secret.id}/reveal`, { env: 'production' });
    expect(revealed.value).toBe('sealed-before-rotation');
    const keys = await owner.call<{ items: { version: number; state: string }[] }>('GET', `/orgs/${org.id}/keys`);
    expect(keys.items.map((k) => `${k.version}:${k.state}`)).toEqual(['1:retired', '2:active']);
  });

  test('an editor cannot rotate: the API refuses and the settings page is not offered', async ({ page, owner, org }) => {
    const editor = await Api.signup('Eddie Editor');
    await owner.addMember(org.id, editor.user.email, 'editor');
    await editor.call('POST', `/orgs/${org.id}/keys/rotate`, undefined, 403);
    await logIn(page, editor.user.email);
    await page.goto(`/orgs/${org.id}/settings`);
    await expect(page.getByText('Admins only')).toBeVisible();
    await expect(page.getByRole('button', { name: 'Rotate data key' })).toHaveCount(0);
    await editor.dispose();
  });
});
