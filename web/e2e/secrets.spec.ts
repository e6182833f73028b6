import { chooseEnvironment, expect, logIn, openSecrets, secretRow, test } from './fixtures';

test.describe('secrets list', () => {
  test.beforeEach(async ({ owner, org }) => {
    await owner.createSecret(org.id, 'STRIPE_SECRET_KEY', { development: 'sk_test_51Nx8dKJ2eZvKYlo2C0abcdefghijklx9Q2', production: 'sk_live_51Nx8dKJ2eZvKYlo2C0zyxwvutsrqponRgA1' }, 'Stripe API key');
    await owner.createSecret(org.id, 'DATABASE_URL', { development: 'postgres://dev', staging: 'postgres://staging-db/app', production: 'postgres://prod-db/app' });
    await owner.createSecret(org.id, 'STAGING_ONLY_TOKEN', { staging: 'stg-token-1234' });
  });

  test('the Environment dropdown switches the list and confirms with a toast', async ({ page, owner, org }) => {
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id);
    const env = page.getByRole('combobox', { name: 'Environment' });
    await expect(env.getByRole('option')).toHaveText(['Development', 'Staging', 'Production', 'All environments']);
    await expect(env).toHaveValue('development');
    await expect(secretRow(page, 'STRIPE_SECRET_KEY')).toBeVisible();
    await expect(page.getByRole('gridcell', { name: 'STAGING_ONLY_TOKEN' })).toHaveCount(0);

    await chooseEnvironment(page, 'Staging');
    await expect(page.getByRole('status').filter({ hasText: 'Showing Staging secrets' })).toBeVisible();
    await expect(secretRow(page, 'STAGING_ONLY_TOKEN')).toBeVisible();
    await expect(page.getByRole('gridcell', { name: 'STRIPE_SECRET_KEY' })).toHaveCount(0);

    await chooseEnvironment(page, 'Production');
    await expect(page.getByRole('status').filter({ hasText: 'Showing Production secrets' })).toBeVisible();
    await expect(secretRow(page, 'STRIPE_SECRET_KEY')).toBeVisible();
    // The row shows that environment's partial mask, as computed by the server.
    const stripe = (await owner.listSecrets(org.id)).items.find((s) => s.name === 'STRIPE_SECRET_KEY');
    await expect(secretRow(page, 'STRIPE_SECRET_KEY')).toContainText(stripe?.environments.production.mask ?? 'missing');
    await expect(secretRow(page, 'STRIPE_SECRET_KEY')).toContainText('sk_live_***RgA1');
    await expect(page.getByRole('gridcell', { name: 'STAGING_ONLY_TOKEN' })).toHaveCount(0);
    // The choice is in the URL, so a reload keeps it.
    await page.reload();
    await expect(page.getByRole('combobox', { name: 'Environment' })).toHaveValue('production');
  });

  test('All environments shows the AG Grid with Yes/No columns, sortable and resizable', async ({ page, owner, org }) => {
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id);
    await chooseEnvironment(page, 'All environments');
    await expect(page.getByRole('status').filter({ hasText: 'All environments' })).toBeVisible();
    const grid = page.getByRole('grid');
    for (const header of ['Name', 'Description', 'Dev', 'Staging', 'Prod', 'Owner', 'Created']) {
      await expect(grid.getByRole('columnheader', { name: header, exact: true })).toBeVisible();
    }
    const staging = secretRow(page, 'STAGING_ONLY_TOKEN');
    await expect(staging.getByRole('gridcell')).toContainText(['STAGING_ONLY_TOKEN', '', 'No', 'Yes', 'No', 'Olivia Owner']);
    const stripe = secretRow(page, 'STRIPE_SECRET_KEY');
    await expect(stripe.getByRole('gridcell')).toContainText(['STRIPE_SECRET_KEY', 'Stripe API key', 'Yes', 'No', 'Yes']);

    const names = () => page.locator('.ag-row .ag-cell[col-id="name"]').allInnerTexts();
    await expect.poll(names).toEqual(['DATABASE_URL', 'STAGING_ONLY_TOKEN', 'STRIPE_SECRET_KEY']);
    await grid.getByRole('columnheader', { name: 'Name', exact: true }).click();
    await expect.poll(names).toEqual(['STRIPE_SECRET_KEY', 'STAGING_ONLY_TOKEN', 'DATABASE_URL']);
    const stagingHeader = grid.getByRole('columnheader', { name: 'Staging', exact: true });
    await stagingHeader.click(); // "No" before "Yes"
    await expect.poll(async () => (await names())[0]).toBe('STRIPE_SECRET_KEY');
    await stagingHeader.click(); // "Yes" before "No"
    await expect.poll(async () => (await names())[2]).toBe('STRIPE_SECRET_KEY');

    // Resize the Description column by dragging its right edge.
    const header = grid.getByRole('columnheader', { name: 'Description', exact: true });
    const before = (await header.boundingBox())?.width ?? 0;
    const handle = header.locator('.ag-header-cell-resize');
    const box = await handle.boundingBox();
    if (!box) throw new Error('no resize handle');
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + 80, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await expect.poll(async () => (await header.boundingBox())?.width ?? 0).toBeGreaterThan(before + 40);
  });

  test('the search box filters by name, case-insensitive, partial match', async ({ page, owner, org }) => {
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id, 'all');
    const search = page.getByRole('searchbox', { name: 'Search secrets' });
    await search.fill('secret');
    await expect(secretRow(page, 'STRIPE_SECRET_KEY')).toBeVisible();
    await expect(page.getByRole('gridcell', { name: 'DATABASE_URL' })).toHaveCount(0);
    await search.fill('TOKEN');
    await expect(secretRow(page, 'STAGING_ONLY_TOKEN')).toBeVisible();
    await expect(page.getByRole('gridcell', { name: 'STRIPE_SECRET_KEY' })).toHaveCount(0);
    await search.fill('base_u');
    await expect(secretRow(page, 'DATABASE_URL')).toBeVisible();
    await expect(page.getByRole('gridcell', { name: 'STAGING_ONLY_TOKEN' })).toHaveCount(0);
    await search.fill('nothing-matches');
    await expect(page.getByText('No secret matches')).toBeVisible();
    await search.fill('');
    await expect(page.locator('.ag-row')).toHaveCount(3);
  });

  test('an empty organization shows an empty state, and "/" focuses the search', async ({ page, owner }) => {
    const empty = await owner.createOrg('Empty Org');
    await logIn(page, owner.user.email);
    await openSecrets(page, empty.id, 'all');
    await expect(page.getByText('No secrets yet')).toBeVisible();
    await page.locator('body').press('/');
    await expect(page.getByRole('searchbox', { name: 'Search secrets' })).toBeFocused();
  });
});
