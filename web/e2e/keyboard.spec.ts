// The main flow with the keyboard alone, asserting where focus is after every step (UI.md):
// a skip link leads to the main content, focus returns to the control that opened a dialog,
// and a busy button keeps it.
import type { Locator, Page } from '@playwright/test';
import { expect, PASSWORD, secretRow, test } from './fixtures';

const VALUE = 'kb-production-value-0001';

/** Presses Tab until `target` has focus; fails after `max` presses. Returns the presses needed. */
async function tabTo(page: Page, target: Locator, max = 12): Promise<number> {
  for (let presses = 1; presses <= max; presses++) {
    await page.keyboard.press('Tab');
    if (await target.evaluate((el) => el === document.activeElement)) return presses;
  }
  throw new Error(`${target} did not get focus within ${max} Tab presses`);
}

test('keyboard only: log in, environment, add, reveal, edit, close, delete', async ({ page, owner, org }) => {
  const stops: Record<string, number> = {};
  await page.goto('/login');
  const email = page.getByRole('textbox', { name: 'Email' });
  await expect(email).toBeFocused();
  await page.keyboard.type(owner.user.email);
  await page.keyboard.press('Tab');
  await expect(page.getByRole('textbox', { name: 'Password' })).toBeFocused();
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
  await page.goto(`/orgs/${org.id}/secrets`);
  await expect(page.getByRole('grid')).toBeVisible();

  // The first Tab stop is the skip link; it leads past the sidebar and header.
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to main content' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('main')).toBeFocused();
  const add = page.getByRole('button', { name: 'Add Secret' });
  stops['main → Add Secret'] = await tabTo(page, add, 1);

  // Environment: arrow keys on the focused select switch the view, focus stays on it.
  const environment = page.getByRole('combobox', { name: 'Environment' });
  stops['Add Secret → Environment'] = await tabTo(page, environment);
  await page.keyboard.press('ArrowDown');
  await expect(environment).toHaveValue('staging');
  await expect(page.getByRole('status').filter({ hasText: 'Showing Staging secrets' })).toBeVisible();
  await page.keyboard.press('ArrowDown');
  await expect(environment).toHaveValue('production');
  await expect(page.getByRole('status').filter({ hasText: 'Showing Production secrets' })).toBeVisible();
  await expect(environment).toBeFocused();

  // Add: the dialog focuses Name; after Create Secret focus is back on Add Secret.
  await page.keyboard.press('Shift+Tab');
  await expect(add).toBeFocused();
  await page.keyboard.press('Enter');
  const addDialog = page.getByRole('dialog', { name: 'Add Secret' });
  await expect(addDialog.getByRole('textbox', { name: 'Name' })).toBeFocused();
  await page.keyboard.type('KB_FLOW_KEY');
  await tabTo(page, addDialog.getByRole('textbox', { name: 'Production value' }));
  await page.keyboard.type(VALUE);
  stops['Production value → Create Secret'] = await tabTo(page, addDialog.getByRole('button', { name: 'Create Secret' }));
  await page.keyboard.press('Enter');
  await expect(addDialog).toHaveCount(0);
  await expect(page.getByRole('status').filter({ hasText: 'Created KB_FLOW_KEY' })).toBeVisible();
  await expect(add).toBeFocused();

  // Reveal: the button stays focused while busy (aria-disabled, not disabled) and after.
  const row = secretRow(page, 'KB_FLOW_KEY');
  await expect(row).toBeVisible();
  const reveal = row.getByRole('button', { name: 'Reveal value' });
  stops['Add Secret → Reveal value'] = await tabTo(page, reveal, 20);
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  await page.route('**/reveal', async (route) => {
    await held;
    await route.continue();
  });
  await page.keyboard.press('Enter');
  await expect(reveal).toHaveAttribute('aria-busy', 'true');
  await expect(reveal).toHaveAttribute('aria-disabled', 'true');
  await expect(reveal).not.toHaveAttribute('disabled');
  await expect(reveal).toBeFocused();
  release();
  await expect(row.getByTestId('revealed-value')).toHaveText(VALUE);
  const hide = row.getByRole('button', { name: 'Hide value' });
  await expect(hide).toBeFocused();
  await page.unroute('**/reveal');

  // Edit: Save hands focus to Close; Close and Escape both return it to Edit secret.
  const editButton = row.getByRole('button', { name: 'Edit secret' });
  stops['Hide value → Edit secret'] = await tabTo(page, editButton);
  await page.keyboard.press('Enter');
  const editDialog = page.getByRole('dialog', { name: 'KB_FLOW_KEY' });
  await expect(editDialog).toBeVisible();
  await expect(editDialog.locator(':focus')).toHaveCount(1);
  await tabTo(page, editDialog.getByRole('textbox', { name: 'Description' }));
  await page.keyboard.type('Edited with the keyboard');
  const save = editDialog.getByRole('button', { name: 'Save' });
  stops['Description → Save'] = await tabTo(page, save);
  await page.keyboard.press('Enter');
  await expect(page.getByRole('status').filter({ hasText: 'Saved KB_FLOW_KEY' })).toBeVisible();
  const close = editDialog.getByRole('button', { name: 'Close', exact: true });
  await expect(close).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(editDialog).toHaveCount(0);
  await expect(editButton).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(editDialog).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(editDialog).toHaveCount(0);
  await expect(editButton).toBeFocused();

  // Delete: cancelling returns focus to Delete secret; deleting the row's only value removes
  // the row, and focus goes to the main content rather than to <body>.
  const deleteButton = row.getByRole('button', { name: 'Delete secret' });
  stops['Edit secret → Delete secret'] = await tabTo(page, deleteButton, 1);
  await page.keyboard.press('Enter');
  const deleteDialog = page.getByRole('dialog', { name: 'Delete secret' });
  await expect(deleteDialog.getByRole('textbox', { name: 'Type delete to confirm' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(deleteDialog).toHaveCount(0);
  await expect(deleteButton).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(deleteDialog.getByRole('textbox', { name: 'Type delete to confirm' })).toBeFocused();
  await page.keyboard.type('delete');
  await page.keyboard.press('Enter');
  await expect(deleteDialog).toHaveCount(0);
  await expect(page.getByRole('status').filter({ hasText: 'Deleted the Production value of KB_FLOW_KEY' })).toBeVisible();
  await expect(row).toHaveCount(0);
  await expect(page.getByRole('main')).toBeFocused();

  console.log(`keyboard Tab presses: ${JSON.stringify(stops)}`);
});
