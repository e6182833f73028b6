import { readFileSync } from 'node:fs';
import { Api, expect, logIn, test } from './fixtures';

async function openAudit(page: import('@playwright/test').Page, orgId: string) {
  await page.goto(`/orgs/${orgId}/audit`);
  await expect(page.getByRole('heading', { name: 'Audit Logs', level: 1 })).toBeVisible();
}

test.describe('Audit Logs', () => {
  test('lists entries with who, what, which secret, where; filters narrow them', async ({ page, owner, org }) => {
    const teammate = await Api.signup('Rita Revealer');
    await owner.addMember(org.id, teammate.user.email, 'viewer');
    const stripe = await owner.createSecret(org.id, 'AUDITED_KEY', { production: 'audited-value-0001', development: 'audited-dev-0001' });
    await owner.createSecret(org.id, 'OTHER_KEY', { development: 'other-0001' });
    await teammate.call('POST', `/orgs/${org.id}/secrets/${stripe.id}/reveal`, { env: 'production' });

    await logIn(page, owner.user.email);
    await openAudit(page, org.id);
    const table = page.getByRole('table', { name: 'Audit trail' });
    for (const header of ['Time', 'User', 'Action', 'Secret', 'Environment', 'IP']) {
      await expect(table.getByRole('columnheader', { name: header, exact: true })).toBeVisible();
    }
    const revealRow = table.getByRole('row').filter({ hasText: 'secret.revealed' });
    await expect(revealRow).toHaveCount(1);
    await expect(revealRow).toContainText(teammate.user.email);
    await expect(revealRow).toContainText('AUDITED_KEY');
    await expect(revealRow).toContainText('Production');
    // The server may record a creation once per environment value: count secrets, not rows.
    const created = table.getByRole('row').filter({ hasText: 'secret.created' });
    await expect(created.filter({ hasText: 'OTHER_KEY' })).toHaveCount(1);
    await expect(created.filter({ hasText: 'AUDITED_KEY' })).not.toHaveCount(0);

    await page.getByRole('combobox', { name: 'Action' }).selectOption('secret.created');
    await expect(table.getByRole('row').filter({ hasText: 'secret.revealed' })).toHaveCount(0);
    await expect(table.getByRole('row').filter({ hasText: 'member.added' })).toHaveCount(0);
    await expect(created.filter({ hasText: 'OTHER_KEY' })).toHaveCount(1);

    await page.getByRole('combobox', { name: 'Secret' }).selectOption({ label: 'OTHER_KEY' });
    await expect(table.locator('tbody tr')).toHaveCount(1);
    await expect(table.locator('tbody tr')).toContainText('OTHER_KEY');

    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByRole('combobox', { name: 'User' }).selectOption({ label: teammate.user.email });
    await expect(table.locator('tbody tr')).toHaveCount(1);
    await expect(table.locator('tbody tr')).toContainText('secret.revealed');

    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByRole('combobox', { name: 'Environment' }).selectOption({ label: 'Production' });
    await expect(table.getByRole('row').filter({ hasText: 'OTHER_KEY' })).toHaveCount(0);
    await expect(table.getByRole('row').filter({ hasText: 'secret.revealed' })).toHaveCount(1);
    for (const text of await table.locator('tbody tr').allInnerTexts()) expect(text).toContain('Production');

    await page.getByRole('button', { name: 'Clear filters' }).click();
    const tomorrow = new Date(Date.now() + 36 * 3600_000).toISOString().slice(0, 10);
    await page.getByLabel('From', { exact: true }).fill(tomorrow);
    await expect(page.getByText('No entries match these filters')).toBeVisible();
    const yesterday = new Date(Date.now() - 36 * 3600_000).toISOString().slice(0, 10);
    await page.getByLabel('From', { exact: true }).fill(yesterday);
    await page.getByLabel('To', { exact: true }).fill(tomorrow);
    await expect(table.getByRole('row').filter({ hasText: 'secret.revealed' })).toHaveCount(1);
    await teammate.dispose();
  });

  test('pages through a long trail and exports it as CSV', async ({ page, owner, org }) => {
    for (let i = 0; i < 27; i++) {
      const s = await owner.createSecret(org.id, `PAGED_${String(i).padStart(2, '0')}`, { development: `paged-value-${i}` });
      await owner.call('POST', `/orgs/${org.id}/secrets/${s.id}/reveal`, { env: 'development' });
    }
    const total = (await owner.call<{ items: unknown[] }>('GET', `/orgs/${org.id}/audit?limit=1000`)).items.length;
    expect(total).toBeGreaterThanOrEqual(54);
    await logIn(page, owner.user.email);
    await openAudit(page, org.id);
    const rows = page.getByRole('table', { name: 'Audit trail' }).locator('tbody tr');
    await expect(rows).toHaveCount(50);
    const firstOnPage1 = await rows.first().innerText();
    await page.getByRole('button', { name: 'Older' }).click();
    await expect(page.getByText('Page 2')).toBeVisible();
    await expect(rows).toHaveCount(total - 50);
    await expect(rows.first()).not.toHaveText(firstOnPage1);
    await page.getByRole('button', { name: 'Newer' }).click();
    await expect(rows).toHaveCount(50);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    expect(download.suggestedFilename()).toMatch(/\.csv$/);
    const csv = readFileSync(await download.path(), 'utf8').trim().split(/\r?\n/);
    expect(csv[0]).toBe('seq,at,action,outcome,actor_email,secret_id,secret_name,env,ip,user_agent');
    expect(csv.length).toBe(total + 1);
  });

  test('Verify integrity checks the hash chain', async ({ page, owner, org }) => {
    await owner.createSecret(org.id, 'CHAINED', { development: 'chained-0001' });
    await logIn(page, owner.user.email);
    await openAudit(page, org.id);
    await page.getByRole('button', { name: 'Verify integrity' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Audit trail intact' })).toBeVisible();
  });
});
