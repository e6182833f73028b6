import { Api, expect, logIn, openSecrets, secretRow, test, uniq } from './fixtures';

test.describe('app shell', () => {
  test('the sidebar navigates between the five sections', async ({ page, owner, org }) => {
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id);
    const nav = page.getByRole('navigation', { name: 'Main' });
    const sections: [string, RegExp, string][] = [
      ['Audit Logs', /\/audit$/, 'Audit Logs'],
      ['Members', /\/members$/, 'Members'],
      ['Service Tokens', /\/service-tokens$/, 'Service Tokens'],
      ['Settings', /\/settings$/, 'Settings'],
      ['Secrets', /\/secrets/, 'Secrets'],
    ];
    for (const [link, url, heading] of sections) {
      await nav.getByRole('link', { name: link, exact: true }).click();
      await expect(page).toHaveURL(url);
      await expect(page.getByRole('heading', { name: heading, level: 1 })).toBeVisible();
    }
  });

  test("the organization dropdown switches orgs, and each org's secrets are separate", async ({ page, owner, org }) => {
    const other = await owner.createOrg(uniq('Beta '));
    await owner.createSecret(org.id, 'ALPHA_ONLY_KEY', { development: 'alpha-value-1' });
    await owner.createSecret(other.id, 'BETA_ONLY_KEY', { development: 'beta-value-1' });
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id);
    await expect(secretRow(page, 'ALPHA_ONLY_KEY')).toBeVisible();
    await expect(page.getByRole('gridcell', { name: 'BETA_ONLY_KEY' })).toHaveCount(0);

    const switcher = page.getByRole('combobox', { name: 'Organization' });
    await expect(switcher.getByRole('option')).toHaveText([org.name, other.name].sort((a, b) => a.localeCompare(b)));
    await switcher.selectOption({ label: other.name });
    await expect(page).toHaveURL(new RegExp(`/orgs/${other.id}/secrets`));
    await expect(secretRow(page, 'BETA_ONLY_KEY')).toBeVisible();
    await expect(page.getByRole('gridcell', { name: 'ALPHA_ONLY_KEY' })).toHaveCount(0);
  });

  test('an organization the user is not a member of is not shown', async ({ page, owner }) => {
    const stranger = await Api.signup('Stan Stranger');
    const hidden = await stranger.createOrg(uniq('Hidden '));
    await stranger.createSecret(hidden.id, 'HIDDEN_KEY', { production: 'nope-nope-nope' });
    await owner.createOrg(uniq('Mine '));
    await logIn(page, owner.user.email);
    await page.goto(`/orgs/${hidden.id}/secrets`);
    await expect(page.getByRole('heading', { name: 'Organization not found' })).toBeVisible();
    await expect(page.getByText('HIDDEN_KEY')).toHaveCount(0);
    await stranger.dispose();
  });

  test('Toggle theme changes the actual colours, the grid included', async ({ page, owner, org }) => {
    await owner.createSecret(org.id, 'THEME_KEY', { development: 'theme-value' });
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id);
    const colours = () =>
      page.evaluate(() => ({
        body: getComputedStyle(document.body).backgroundColor,
        grid: getComputedStyle(document.querySelector('.ag-root-wrapper') as Element).backgroundColor,
        text: getComputedStyle(document.body).color,
      }));
    const before = await colours();
    await page.getByRole('button', { name: 'Toggle theme' }).click();
    const after = await colours();
    expect(after.body).not.toBe(before.body);
    expect(after.grid).not.toBe(before.grid);
    expect(after.text).not.toBe(before.text);
    // The choice survives a reload.
    await page.reload();
    await expect(page.getByRole('grid')).toBeVisible();
    expect((await colours()).body).toBe(after.body);
  });

  test('usable in a narrow window', async ({ page, owner, org }) => {
    await owner.createSecret(org.id, 'NARROW_KEY', { development: 'narrow-value-123' });
    await page.setViewportSize({ width: 720, height: 900 });
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id);
    for (const name of ['Secrets', 'Audit Logs', 'Members', 'Service Tokens', 'Settings']) {
      await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true })).toBeVisible();
    }
    await expect(page.getByRole('button', { name: 'Add Secret' })).toBeInViewport();
    await expect(page.getByRole('searchbox', { name: 'Search secrets' })).toBeInViewport();
    await expect(secretRow(page, 'NARROW_KEY')).toBeVisible();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });
});
