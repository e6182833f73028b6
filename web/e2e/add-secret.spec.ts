import { chooseEnvironment, expect, logIn, openSecrets, secretRow, test } from './fixtures';

test.describe('+ Add Secret', () => {
  test('upper-cases the name, creates with all three values, and lists it', async ({ page, owner, org }) => {
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id);
    await page.getByRole('button', { name: 'Add Secret' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add Secret' });
    await expect(dialog).toBeVisible();
    await dialog.getByRole('textbox', { name: 'Name' }).pressSequentially('stripe_api_key');
    await expect(dialog.getByRole('textbox', { name: 'Name' })).toHaveValue('STRIPE_API_KEY');
    await dialog.getByRole('textbox', { name: 'Description' }).fill('Payments');
    await dialog.getByRole('textbox', { name: 'Development value' }).fill('sk_test_dev_value_0001');
    await dialog.getByRole('textbox', { name: 'Staging value' }).fill('sk_test_staging_value_0002');
    await dialog.getByRole('textbox', { name: 'Production value' }).fill('sk_live_production_value_0003_abcdefghij');
    await dialog.getByRole('button', { name: 'Create Secret' }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByRole('status').filter({ hasText: 'Created STRIPE_API_KEY' })).toBeVisible();
    await expect(secretRow(page, 'STRIPE_API_KEY')).toBeVisible();

    const created = (await owner.listSecrets(org.id)).items.find((s) => s.name === 'STRIPE_API_KEY');
    expect(created?.description).toBe('Payments');
    expect(created?.environments.development.set && created.environments.staging.set && created.environments.production.set).toBe(true);

    await chooseEnvironment(page, 'All environments');
    await expect(secretRow(page, 'STRIPE_API_KEY').getByRole('gridcell')).toContainText(['STRIPE_API_KEY', 'Payments', 'Yes', 'Yes', 'Yes']);
  });

  test('creates with the current environment value only', async ({ page, owner, org }) => {
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id, 'production');
    await page.getByRole('button', { name: 'Add Secret' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add Secret' });
    await dialog.getByRole('textbox', { name: 'Name' }).fill('prod only key');
    await expect(dialog.getByRole('textbox', { name: 'Name' })).toHaveValue('PROD_ONLY_KEY');
    await dialog.getByRole('textbox', { name: 'Production value' }).fill('only-in-production-123');
    await dialog.getByRole('button', { name: 'Create Secret' }).click();
    await expect(secretRow(page, 'PROD_ONLY_KEY')).toBeVisible();
    await chooseEnvironment(page, 'Development');
    await expect(page.getByRole('gridcell', { name: 'PROD_ONLY_KEY' })).toHaveCount(0);
  });

  test("a duplicate name shows the server's message inline", async ({ page, owner, org }) => {
    await owner.createSecret(org.id, 'DUPLICATE_ME', { development: 'first-value' });
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id);
    await page.getByRole('button', { name: 'Add Secret' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add Secret' });
    await dialog.getByRole('textbox', { name: 'Name' }).fill('duplicate_me');
    await dialog.getByRole('textbox', { name: 'Development value' }).fill('second-value');
    await dialog.getByRole('button', { name: 'Create Secret' }).click();
    await expect(dialog.getByText('A secret named "DUPLICATE_ME" already exists in this organization.')).toBeVisible();
    await expect(dialog).toBeVisible();
    expect((await owner.listSecrets(org.id)).items.filter((s) => s.name === 'DUPLICATE_ME')).toHaveLength(1);
  });
});
