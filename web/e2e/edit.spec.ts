import { expect, logIn, openSecrets, secretRow, test } from './fixtures';

test.describe('detail and edit view', () => {
  test('row click opens the detail view; Save sends only the changed fields and the version grows', async ({ page, owner, org }) => {
    const secret = await owner.createSecret(org.id, 'EDIT_ME', { development: 'dev-value-0001', production: 'sk_live_edit_me_value_0123456789_ABCD' }, 'Before');
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id, 'development');
    await secretRow(page, 'EDIT_ME').getByRole('gridcell', { name: 'EDIT_ME' }).click();

    const dialog = page.getByRole('dialog', { name: 'EDIT_ME' });
    await expect(dialog).toBeVisible();
    const id = dialog.getByRole('textbox', { name: 'ID' });
    await expect(id).toHaveValue(secret.id);
    await expect(id).not.toBeEditable();
    await expect(dialog).toContainText('Olivia Owner');
    await expect(dialog).toContainText(secret.environments.production.mask ?? 'mask');
    await expect(dialog).toContainText('Version 1');
    await expect(dialog).toContainText('Not set');
    const save = dialog.getByRole('button', { name: 'Save' });
    await expect(save).toBeDisabled();

    // Only the description changes.
    await dialog.getByRole('textbox', { name: 'Description' }).fill('After');
    await expect(save).toBeEnabled();
    const [patch1] = await Promise.all([page.waitForRequest((r) => r.method() === 'PATCH'), save.click()]);
    expect(patch1.postDataJSON()).toEqual({ description: 'After', expected_version: 1 });
    await expect(dialog).toContainText('Version 2');
    await expect(page.getByRole('status').filter({ hasText: 'Saved EDIT_ME' })).toBeVisible();
    await expect(save).toBeDisabled();

    // Only the Staging value changes.
    await dialog.getByRole('textbox', { name: 'Staging value' }).fill('staging-value-0001');
    const [patch2] = await Promise.all([page.waitForRequest((r) => r.method() === 'PATCH'), save.click()]);
    expect(patch2.postDataJSON()).toEqual({ values: { staging: 'staging-value-0001' }, expected_version: 2 });
    await expect(dialog).toContainText('Version 3');

    const after = await owner.getSecret(org.id, secret.id);
    expect(after.description).toBe('After');
    expect(after.version).toBe(3);
    expect(after.environments.staging.set).toBe(true);
    expect(after.environments.development.version).toBe(1);
  });

  test("a concurrent save is refused with the server's detail in an error toast", async ({ page, owner, org }) => {
    const secret = await owner.createSecret(org.id, 'RACED_KEY', { development: 'raced-0001' });
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id, 'development');
    await secretRow(page, 'RACED_KEY').getByRole('gridcell', { name: 'RACED_KEY' }).click();
    const dialog = page.getByRole('dialog', { name: 'RACED_KEY' });
    await dialog.getByRole('textbox', { name: 'Description' }).fill('Mine');
    // Someone else saves first.
    await owner.updateSecret(org.id, secret.id, { description: 'Theirs' });
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'PATCH'),
      dialog.getByRole('button', { name: 'Save' }).click(),
    ]);
    expect(response.status()).toBe(409);
    const problem = (await response.json()) as { detail: string; code: string };
    expect(problem.code).toBe('version_conflict');
    await expect(page.getByRole('alert').filter({ hasText: problem.detail })).toBeVisible();
    expect((await owner.getSecret(org.id, secret.id)).description).toBe('Theirs');
  });

  test('closing with unsaved changes asks first', async ({ page, owner, org }) => {
    await owner.createSecret(org.id, 'UNSAVED_KEY', { development: 'unsaved-0001' });
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id, 'development');
    await secretRow(page, 'UNSAVED_KEY').getByRole('gridcell', { name: 'UNSAVED_KEY' }).click();
    const dialog = page.getByRole('dialog', { name: 'UNSAVED_KEY' });
    await dialog.getByRole('textbox', { name: 'Production value' }).fill('not-saved-yet');
    await page.keyboard.press('Escape');
    await expect(dialog.getByRole('alert')).toHaveText('Discard your unsaved changes to Production value?');
    await dialog.getByRole('button', { name: 'Keep editing' }).click();
    await expect(dialog.getByRole('textbox', { name: 'Production value' })).toHaveValue('not-saved-yet');
    await dialog.getByRole('button', { name: 'Close dialog' }).click();
    await dialog.getByRole('button', { name: 'Discard and close' }).click();
    await expect(page.getByRole('dialog')).toHaveCount(0);
  });

  test('the pencil opens the same view, and a removed value is sent as null', async ({ page, owner, org }) => {
    const secret = await owner.createSecret(org.id, 'PENCIL_ME', { development: 'dev-value-0002', staging: 'stg-value-0002' });
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id, 'development');
    await secretRow(page, 'PENCIL_ME').getByRole('button', { name: 'Edit secret' }).click();
    const dialog = page.getByRole('dialog', { name: 'PENCIL_ME' });
    await dialog.getByRole('button', { name: 'Remove Staging value' }).click();
    const [patch] = await Promise.all([page.waitForRequest((r) => r.method() === 'PATCH'), dialog.getByRole('button', { name: 'Save' }).click()]);
    expect(patch.postDataJSON()).toEqual({ values: { staging: null }, expected_version: 1 });
    await expect(dialog).toContainText('Version 2');
    expect((await owner.getSecret(org.id, secret.id)).environments.staging.set).toBe(false);
  });

  test('keyboard: Enter on a row opens it, Escape closes it, "n" opens Add Secret', async ({ page, owner, org }) => {
    await owner.createSecret(org.id, 'ESCAPE_ME', { development: 'x-value-0003' });
    await logIn(page, owner.user.email);
    await openSecrets(page, org.id, 'development');
    await secretRow(page, 'ESCAPE_ME').getByRole('gridcell', { name: 'ESCAPE_ME' }).focus();
    await page.keyboard.press('Enter');
    await expect(page.getByRole('dialog', { name: 'ESCAPE_ME' })).toBeVisible();
    await page.keyboard.press('Escape');
    await expect(page.getByRole('dialog')).toHaveCount(0);
    await page.locator('body').press('n');
    await expect(page.getByRole('dialog', { name: 'Add Secret' })).toBeVisible();
    await expect(page.getByRole('textbox', { name: 'Name' })).toBeFocused();
  });
});
