import { Api, expect, logIn, PASSWORD, test, uniq } from './fixtures';

test.describe('authentication', () => {
  test('sign up, create the first organization, log out and log in again', async ({ page }) => {
    const email = `${uniq('newcomer-')}@e2e.keyledger.test`;
    await page.goto('/');
    await expect(page).toHaveURL(/\/login/);
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByRole('textbox', { name: 'Name' }).fill('Nina Newcomer');
    await page.getByRole('textbox', { name: 'Email' }).fill(email);
    await page.getByRole('textbox', { name: 'Password' }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign up' }).click();

    await expect(page.getByRole('heading', { name: 'Create your organization' })).toBeVisible();
    const orgName = uniq('Nina Corp ');
    await page.getByRole('textbox', { name: 'Organization name' }).fill(orgName);
    await page.getByRole('button', { name: 'Create organization' }).click();

    await expect(page.getByRole('heading', { name: 'Secrets', level: 1 })).toBeVisible();
    await expect(page.getByRole('combobox', { name: 'Organization' })).toHaveValue(/.+/);
    await expect(page.getByRole('combobox', { name: 'Organization' }).locator('option:checked')).toHaveText(orgName);

    await page.getByRole('button', { name: 'Account' }).click();
    await page.getByRole('menuitem', { name: 'Log out' }).click();
    await expect(page).toHaveURL(/\/login/);
    // The session is dead on the server too: the dashboard sends us back to log in.
    await page.goto('/');
    await expect(page.getByRole('button', { name: 'Log in' })).toBeVisible();

    await logIn(page, email);
    await expect(page.getByRole('heading', { name: 'Secrets', level: 1 })).toBeVisible();
  });

  test('a wrong password shows the server detail, and sign-up refuses a short password', async ({ page, owner }) => {
    await page.goto('/login');
    await page.getByRole('textbox', { name: 'Email' }).fill(owner.user.email);
    await page.getByRole('textbox', { name: 'Password' }).fill('not-the-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect(page.getByRole('alert')).toBeVisible();
    await expect(page).toHaveURL(/\/login/);

    await page.goto('/signup');
    await page.getByRole('textbox', { name: 'Name' }).fill('Shorty');
    await page.getByRole('textbox', { name: 'Email' }).fill(`${uniq('short-')}@e2e.keyledger.test`);
    await page.getByRole('textbox', { name: 'Password' }).fill('short');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await expect(page.getByText('Use at least 10 characters.')).toBeVisible();
  });

  test('a taken email shows the server detail on sign-up', async ({ page, owner }) => {
    const problem = await (await fetch(`${process.env.KEYLEDGER_E2E_URL}/api/v1/auth/signup`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: owner.user.email, password: PASSWORD, name: 'Again' }),
    })).json() as { detail: string };
    await page.goto('/signup');
    await page.getByRole('textbox', { name: 'Name' }).fill('Again');
    await page.getByRole('textbox', { name: 'Email' }).fill(owner.user.email);
    await page.getByRole('textbox', { name: 'Password' }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await expect(page.getByRole('alert')).toHaveText(problem.detail);
  });

  test('the bootstrap super-admin can log in', async ({ page }) => {
    const admin = await Api.admin();
    await admin.createOrg(uniq('Admin Org '));
    await logIn(page, process.env.KEYLEDGER_E2E_ADMIN_EMAIL ?? '', process.env.KEYLEDGER_E2E_ADMIN_PASSWORD);
    await expect(page.getByRole('heading', { name: 'Secrets', level: 1 })).toBeVisible();
    await admin.dispose();
  });
});
