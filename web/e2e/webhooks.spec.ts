// Settings → Webhooks against the real server (serve --dev allows a receiver on loopback):
// the signing secret is shown once and signs what the receiver gets, deliveries are
// listed and redelivered, and a removed webhook is gone.
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expectAccessible } from './axe';
import { expect, logIn, test } from './fixtures';

interface Received {
  delivery: string;
  signature: string;
  body: string;
}

async function startReceiver(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      received.push({ delivery: String(req.headers['keyledger-delivery'] ?? ''), signature: String(req.headers['keyledger-signature'] ?? ''), body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

/** What a receiver does: recompute v1 over "<t>.<body>" with the signing secret. */
function verifies(secret: string, header: string, body: string): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = parts.t;
  const v1 = parts.v1;
  if (!t || !v1) return false;
  return createHmac('sha256', secret).update(`${t}.${body}`).digest('hex') === v1;
}

test('a webhook gets signed notices, lists its deliveries, redelivers, and can be removed', async ({ page, owner, org }) => {
  const receiver = await startReceiver();
  try {
    await logIn(page, owner.user.email);
    await page.goto(`/orgs/${org.id}/settings`);
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await expect(page.getByRole('heading', { name: 'Webhooks', exact: true })).toBeVisible();
    await expect(page.getByText('No webhooks')).toBeVisible();
    await expectAccessible(page, 'the empty webhooks page');

    await page.getByRole('button', { name: 'Add webhook' }).click();
    const add = page.getByRole('dialog', { name: 'Add webhook' });
    await add.getByRole('textbox', { name: 'Endpoint URL' }).fill(receiver.url);
    await add.getByRole('checkbox', { name: 'Production' }).check();
    await add.getByRole('textbox', { name: /Description/ }).fill('e2e receiver');
    await expectAccessible(page, 'the add webhook dialog');
    await add.getByRole('button', { name: 'Create webhook' }).click();

    const shown = page.getByRole('dialog', { name: 'Webhook added' });
    const secretBox = shown.getByRole('textbox', { name: 'Signing secret' });
    await expect(secretBox).toHaveValue(/^whsec_/);
    const secret = await secretBox.inputValue();
    await expectAccessible(page, 'the signing secret dialog');
    await shown.getByRole('button', { name: 'Done' }).click();
    const row = page.getByRole('row').filter({ hasText: receiver.url });
    await expect(row).toContainText('Production');
    await expect(page.getByText(secret)).toHaveCount(0);

    await owner.createSecret(org.id, 'WEBHOOK_KEY', { production: 'webhook-value-0001', development: 'dev-only' });
    await expect.poll(() => receiver.received.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);
    const first = receiver.received[0]!;
    expect(verifies(secret, first.signature, first.body)).toBe(true);
    expect(verifies('whsec_wrong', first.signature, first.body)).toBe(false);
    const notice = JSON.parse(first.body) as { name: string; env: string; type: string };
    expect(notice).toMatchObject({ name: 'WEBHOOK_KEY', env: 'production', type: 'secret.created' });
    expect(first.body).not.toContain('webhook-value-0001');

    await row.getByRole('button', { name: 'Deliveries' }).click();
    const deliveries = page.getByRole('table', { name: `Deliveries to ${receiver.url}` });
    await expect(deliveries.getByText('Delivered')).toBeVisible();
    await expectAccessible(page, 'the deliveries of a webhook');
    await deliveries.getByRole('button', { name: 'Redeliver' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'queued again' })).toBeVisible();
    await expect.poll(() => receiver.received.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    expect(receiver.received[1]!.delivery).toBe(first.delivery);
    expect(receiver.received[1]!.body).toBe(first.body);
    // Only production was asked for: the development value sent nothing.
    expect(receiver.received.every((r) => (JSON.parse(r.body) as { env: string }).env === 'production')).toBe(true);

    await page.getByRole('button', { name: `Remove webhook ${receiver.url}` }).click();
    await page.getByRole('dialog', { name: 'Remove webhook' }).getByRole('button', { name: 'Remove' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Removed the webhook' })).toBeVisible();
    await expect(page.getByText('No webhooks')).toBeVisible();
  } finally {
    receiver.server.close();
  }
});

test('an endpoint URL the server refuses is shown on the Endpoint URL field', async ({ page, owner, org }) => {
  // serve --dev allows private addresses (the API tests cover their refusal), so the
  // refusal here is the scheme's; the field shows the server's reason either way.
  await logIn(page, owner.user.email);
  await page.goto(`/orgs/${org.id}/settings/webhooks`);
  await page.getByRole('button', { name: 'Add webhook' }).click();
  const add = page.getByRole('dialog', { name: 'Add webhook' });
  const url = add.getByRole('textbox', { name: 'Endpoint URL' });
  await url.fill('ftp://files.example.com/drop');
  await add.getByRole('button', { name: 'Create webhook' }).click();
  await expect(add.getByRole('alert')).toContainText('Endpoint URL must use https or http');
  await expect(url).toHaveAttribute('aria-invalid', 'true');
});

for (const theme of ['light', 'dark'] as const) {
  test.describe(`webhooks page, ${theme} theme`, () => {
    test.use({ colorScheme: theme });

    test('has no critical or serious axe violation', async ({ page, owner, org }) => {
      const receiver = await startReceiver();
      try {
        await owner.call('POST', `/orgs/${org.id}/webhooks`, { url: receiver.url, description: 'axe' }, 201);
        await owner.createSecret(org.id, 'AXE_HOOKED', { staging: 'axe-value-0001' });
        await expect.poll(() => receiver.received.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);
        await logIn(page, owner.user.email);
        await page.goto(`/orgs/${org.id}/settings/webhooks`);
        await expect(page.getByRole('link', { name: 'Webhooks' })).toHaveAttribute('aria-current', 'page');
        await page.getByRole('button', { name: 'Deliveries' }).click();
        await expect(page.getByRole('button', { name: 'Redeliver' })).toBeVisible();
        await expectAccessible(page, `the webhooks page with deliveries (${theme})`);
        await page.getByRole('button', { name: 'Add webhook' }).click();
        await expect(page.getByRole('dialog', { name: 'Add webhook' })).toBeVisible();
        await expectAccessible(page, `the add webhook dialog (${theme})`);
        await page.keyboard.press('Escape');
        await expect(page.getByRole('button', { name: 'Add webhook' })).toBeFocused();
      } finally {
        receiver.server.close();
      }
    });
  });
}
