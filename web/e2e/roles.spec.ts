import { Api, expect, logIn, openSecrets, secretRow, test } from './fixtures';

test.describe('what each role sees', () => {
  test("a non-owner editor sees the owner's secrets read-only, and can edit their own", async ({ page, owner, org }) => {
    await owner.createSecret(org.id, 'OWNED_BY_OLIVIA', { development: 'olivia-value-0001' });
    const editor = await Api.signup('Eddie Editor');
    await owner.addMember(org.id, editor.user.email, 'editor');
    await editor.createSecret(org.id, 'OWNED_BY_EDDIE', { development: 'eddie-value-0001' });

    await logIn(page, editor.user.email);
    await openSecrets(page, org.id, 'development');
    await expect(page.getByRole('button', { name: 'Add Secret' })).toBeEnabled();
    const theirs = secretRow(page, 'OWNED_BY_OLIVIA');
    await expect(theirs.getByRole('button', { name: 'Edit secret' })).toBeDisabled();
    await expect(theirs.getByRole('button', { name: 'Delete secret' })).toBeDisabled();
    await expect(theirs.getByRole('button', { name: 'Reveal value' })).toBeEnabled();
    const mine = secretRow(page, 'OWNED_BY_EDDIE');
    await expect(mine.getByRole('button', { name: 'Edit secret' })).toBeEnabled();
    await expect(mine.getByRole('button', { name: 'Delete secret' })).toBeEnabled();

    await theirs.getByRole('gridcell', { name: 'OWNED_BY_OLIVIA' }).click();
    const dialog = page.getByRole('dialog', { name: 'OWNED_BY_OLIVIA' });
    await expect(dialog.getByRole('alert')).toHaveText('Only Olivia Owner can modify this secret');
    for (const name of ['Description', 'Development value', 'Staging value', 'Production value']) {
      await expect(dialog.getByRole('textbox', { name, exact: true })).toBeDisabled();
    }
    await expect(dialog.getByRole('button', { name: 'Save' })).toBeDisabled();
    await expect(dialog.getByRole('textbox', { name: 'ID' })).toHaveValue(/[0-9a-f-]{36}/);
    await page.keyboard.press('Escape');

    await mine.getByRole('gridcell', { name: 'OWNED_BY_EDDIE' }).click();
    const own = page.getByRole('dialog', { name: 'OWNED_BY_EDDIE' });
    await expect(own.getByRole('alert')).toHaveCount(0);
    await own.getByRole('textbox', { name: 'Description' }).fill('Mine to change');
    await own.getByRole('button', { name: 'Save' }).click();
    await expect(own).toContainText('Version 2');
    await editor.dispose();
  });

  test('a viewer can look and reveal, but not create, edit or delete', async ({ page, owner, org }) => {
    await owner.createSecret(org.id, 'VIEW_ME', { production: 'viewer-can-reveal-this' });
    const viewer = await Api.signup('Vera Viewer');
    await owner.addMember(org.id, viewer.user.email, 'viewer');

    await logIn(page, viewer.user.email);
    await openSecrets(page, org.id, 'production');
    await expect(page.getByRole('button', { name: 'Add Secret' })).toBeDisabled();
    const row = secretRow(page, 'VIEW_ME');
    await expect(row.getByRole('button', { name: 'Edit secret' })).toBeDisabled();
    await expect(row.getByRole('button', { name: 'Delete secret' })).toBeDisabled();
    // The tooltip says why.
    await expect(row.getByRole('button', { name: 'Delete secret' })).toHaveAccessibleDescription('Viewers cannot delete secrets');
    await expect(row.getByRole('button', { name: 'Delete secret' }).locator('..')).toHaveAttribute('data-tooltip', 'Viewers cannot delete secrets');

    await row.getByRole('button', { name: 'Reveal value' }).click();
    await expect(row).toContainText('viewer-can-reveal-this');

    await row.getByRole('gridcell', { name: 'VIEW_ME' }).click();
    const dialog = page.getByRole('dialog', { name: 'VIEW_ME' });
    await expect(dialog.getByRole('alert')).toHaveText('Only Olivia Owner can modify this secret');
    await expect(dialog.getByRole('textbox', { name: 'Production value' })).toBeDisabled();
    await expect(dialog.getByRole('button', { name: 'Save' })).toBeDisabled();
    await page.keyboard.press('Escape');

    // Admin pages say why they are closed.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Members' }).click();
    await expect(page.getByRole('heading', { name: 'Admins only' })).toBeVisible();
    await viewer.dispose();
  });

  test("an admin may edit and delete anyone's secret", async ({ page, owner, org }) => {
    await owner.createSecret(org.id, 'ADMIN_CAN_EDIT', { development: 'admin-edit-0001' });
    const admin = await Api.signup('Ada Admin');
    await owner.addMember(org.id, admin.user.email, 'admin');
    await logIn(page, admin.user.email);
    await openSecrets(page, org.id, 'development');
    const row = secretRow(page, 'ADMIN_CAN_EDIT');
    await expect(row.getByRole('button', { name: 'Edit secret' })).toBeEnabled();
    await expect(row.getByRole('button', { name: 'Delete secret' })).toBeEnabled();
    await admin.dispose();
  });
});
