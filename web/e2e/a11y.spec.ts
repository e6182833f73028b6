// WCAG 2.2 AA, checked by axe-core in every view of the dashboard, in both themes (UI.md).
// The theme comes from the system preference here, as it does for a first-time visitor.
import { axeViolations, blocking, describeViolations } from './axe';
import { Api, chooseEnvironment, expect, logIn, openSecrets, secretRow, test } from './fixtures';

for (const theme of ['light', 'dark'] as const) {
  test.describe(`accessibility, ${theme} theme`, () => {
    test.use({ colorScheme: theme });

    test('no view has a critical or serious axe violation', async ({ page, owner, org }) => {
      const teammate = await Api.signup('Mia Member');
      await owner.addMember(org.id, teammate.user.email, 'editor');
      await owner.createSecret(org.id, 'A11Y_KEY', { development: 'a11y-dev-value-0001', production: 'a11y-prod-value-0001' }, 'Checked by axe');
      await owner.createSecret(org.id, 'A11Y_OTHER', { staging: 'a11y-staging-value-0001' });
      await owner.call('POST', `/orgs/${org.id}/service-tokens`, { name: 'ci-deploy', environments: ['production'] }, 201);

      const counts: Record<string, number> = {};
      const check = async (view: string) => {
        const found = blocking(await axeViolations(page));
        counts[view] = found.reduce((n, v) => n + v.nodes.length, 0);
        console.log(`axe ${theme} · ${view}: ${found.length} rules, ${counts[view]} nodes${found.length ? ` (${found.map((v) => `${v.id}×${v.nodes.length}`).join(', ')})` : ''}`);
        expect.soft(found, `axe on ${view} (${theme}):\n${describeViolations(found)}`).toEqual([]);
      };

      await page.goto('/login');
      await expect(page.getByRole('button', { name: 'Log in' })).toBeVisible();
      await check('login');
      await page.goto('/signup');
      await expect(page.getByRole('button', { name: 'Sign up' })).toBeVisible();
      await check('sign-up');

      await logIn(page, owner.user.email);
      await openSecrets(page, org.id, 'all');
      await expect(secretRow(page, 'A11Y_KEY')).toBeVisible();
      await check('grid, All environments');

      await chooseEnvironment(page, 'Production');
      const row = secretRow(page, 'A11Y_KEY');
      await row.getByRole('button', { name: 'Reveal value' }).click();
      await expect(row.getByTestId('revealed-value')).toHaveText('a11y-prod-value-0001');
      await check('grid, Production, value revealed');

      await page.getByRole('button', { name: 'Add Secret' }).click();
      await expect(page.getByRole('dialog', { name: 'Add Secret' })).toBeVisible();
      await check('Add Secret dialog');
      await page.keyboard.press('Escape');
      await expect(page.getByRole('dialog')).toHaveCount(0);

      await row.getByRole('button', { name: 'Edit secret' }).click();
      await expect(page.getByRole('dialog', { name: 'A11Y_KEY' })).toBeVisible();
      await expect(page.getByRole('textbox', { name: 'ID' })).toBeVisible();
      await check('detail / edit dialog');
      await page.keyboard.press('Escape');
      await expect(page.getByRole('dialog')).toHaveCount(0);

      await row.getByRole('button', { name: 'Delete secret' }).click();
      await expect(page.getByRole('dialog', { name: 'Delete secret' })).toBeVisible();
      await check('delete dialog');
      await page.keyboard.press('Escape');
      await expect(page.getByRole('dialog')).toHaveCount(0);

      const nav = page.getByRole('navigation', { name: 'Main' });
      for (const [link, ready] of [
        ['Audit Logs', () => page.getByRole('table', { name: 'Audit trail' })],
        ['Members', () => page.getByText(teammate.user.email)],
        ['Service Tokens', () => page.getByText('ci-deploy')],
        ['Settings', () => page.getByRole('textbox', { name: 'Organization name' })],
      ] as const) {
        await nav.getByRole('link', { name: link, exact: true }).click();
        await expect(page.getByRole('heading', { name: link, level: 1 })).toBeVisible();
        await expect(ready().first()).toBeVisible();
        await check(link);
      }

      await teammate.dispose();
    });
  });
}
