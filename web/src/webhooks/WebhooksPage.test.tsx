import { afterEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { WebhooksOf } from './WebhooksPage';
import { mockFetch, renderWithProviders } from '../test-utils';

const hook = {
  id: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  url: 'https://hooks.example.com/keyledger',
  environments: ['production'],
  description: 'deploy bot',
  created_at: '2026-01-02T10:00:00Z',
  created_by: 'u1',
};

const delivery = {
  id: 'd1',
  seq: 42,
  secret_id: '0b6f4f55-8d0e-4a43-9a52-8a3c1f0c5e01',
  env: 'production',
  status: 'failed',
  attempts: 18,
  last_status_code: 500,
  last_error: 'HTTP 500',
  next_attempt_at: null,
  created_at: '2026-01-02T10:00:00Z',
};

describe('WebhooksOf', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('adds a webhook and shows its signing secret once', async () => {
    let created = false;
    const calls = mockFetch((call) => {
      if (call.method === 'GET' && call.url.endsWith('/webhooks')) return { body: { items: created ? [hook] : [] } };
      if (call.method === 'POST' && call.url.endsWith('/webhooks')) {
        created = true;
        return { status: 201, body: { ...hook, signing_secret: 'whsec_abc123' } };
      }
      return undefined;
    });
    renderWithProviders(<WebhooksOf orgId="o" />);
    await screen.findByText('No webhooks');
    fireEvent.click(screen.getByRole('button', { name: 'Add webhook' }));
    const dialog = screen.getByRole('dialog', { name: 'Add webhook' });
    const create = within(dialog).getByRole('button', { name: 'Create webhook' });
    expect(create).toBeDisabled();
    fireEvent.change(within(dialog).getByRole('textbox', { name: 'Endpoint URL' }), { target: { value: ' https://hooks.example.com/keyledger ' } });
    fireEvent.click(within(dialog).getByRole('checkbox', { name: 'Production' }));
    fireEvent.change(within(dialog).getByRole('textbox', { name: /Description/ }), { target: { value: 'deploy bot' } });
    fireEvent.click(create);
    const shown = await screen.findByRole('dialog', { name: 'Webhook added' });
    expect(within(shown).getByRole('textbox', { name: 'Signing secret' })).toHaveValue('whsec_abc123');
    const post = calls.find((c) => c.method === 'POST');
    expect(post?.body).toEqual({ url: 'https://hooks.example.com/keyledger', environments: ['production'], description: 'deploy bot' });
    expect(post?.headers['Idempotency-Key']).toBeTruthy();
    fireEvent.click(within(shown).getByRole('button', { name: 'Done' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(await screen.findByText('https://hooks.example.com/keyledger')).toBeInTheDocument();
    expect(screen.queryByText('whsec_abc123')).toBeNull();
  });

  it("shows the server's refusal of a private address on the URL field", async () => {
    mockFetch((call) => {
      if (call.method === 'GET') return { body: { items: [] } };
      return {
        status: 422,
        body: {
          type: 'about:blank', title: 'Unprocessable', status: 422, code: 'validation_failed', detail: 'url: must be on a public address',
          errors: [{ field: 'url', message: 'must be on a public address' }],
        },
      };
    });
    renderWithProviders(<WebhooksOf orgId="o" />);
    await screen.findByText('No webhooks');
    fireEvent.click(screen.getByRole('button', { name: 'Add webhook' }));
    const dialog = screen.getByRole('dialog', { name: 'Add webhook' });
    const url = within(dialog).getByRole('textbox', { name: 'Endpoint URL' });
    fireEvent.change(url, { target: { value: 'http://127.0.0.1/' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Create webhook' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('Endpoint URL must be on a public address.');
    expect(url).toHaveAttribute('aria-invalid', 'true');
  });

  it('lists deliveries and redelivers one', async () => {
    const calls = mockFetch((call) => {
      if (call.method === 'GET' && call.url.endsWith('/webhooks')) return { body: { items: [hook] } };
      if (call.method === 'GET' && call.url.endsWith('/deliveries')) return { body: { items: [delivery] } };
      if (call.method === 'POST' && call.url.endsWith('/redeliver')) return { status: 202, body: { ...delivery, status: 'pending' } };
      return undefined;
    });
    renderWithProviders(<WebhooksOf orgId="o" />);
    fireEvent.click(await screen.findByRole('button', { name: 'Deliveries' }));
    const table = await screen.findByRole('table', { name: 'Deliveries to https://hooks.example.com/keyledger' });
    expect(within(table).getByText('Failed')).toBeInTheDocument();
    expect(within(table).getByText('HTTP 500')).toBeInTheDocument();
    fireEvent.click(within(table).getByRole('button', { name: 'Redeliver' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST' && c.url === `/api/v1/orgs/o/webhooks/${hook.id}/deliveries/d1/redeliver`)).toBe(true));
    expect(await screen.findByText('Delivery of event 42 queued again')).toBeInTheDocument();
  });

  it('removes a webhook after asking', async () => {
    const calls = mockFetch((call) => {
      if (call.method === 'GET') return { body: { items: [hook] } };
      if (call.method === 'DELETE') return { status: 204 };
      return undefined;
    });
    renderWithProviders(<WebhooksOf orgId="o" />);
    fireEvent.click(await screen.findByRole('button', { name: `Remove webhook ${hook.url}` }));
    const dialog = screen.getByRole('dialog', { name: 'Remove webhook' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Remove' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'DELETE' && c.url === `/api/v1/orgs/o/webhooks/${hook.id}`)).toBe(true));
  });
});
