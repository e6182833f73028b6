import { afterEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { DataKeysSection } from './DataKeys';
import { mockFetch, renderWithProviders } from '../test-utils';

describe('DataKeysSection', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('lists the versions with their state, newest first, and rotates with a confirming toast', async () => {
    let versions = [{ version: 1, created_at: '2026-01-02T10:00:00Z', state: 'active' }];
    const calls = mockFetch((call) => {
      if (call.method === 'GET' && call.url === '/api/v1/orgs/o/keys') return { body: { items: versions } };
      if (call.method === 'POST' && call.url === '/api/v1/orgs/o/keys/rotate') {
        versions = [
          { version: 1, created_at: '2026-01-02T10:00:00Z', state: 'retired' },
          { version: 2, created_at: '2026-02-03T10:00:00Z', state: 'active' },
        ];
        return { body: { version: 2 } };
      }
      return undefined;
    });
    renderWithProviders(<DataKeysSection orgId="o" />);
    const table = await screen.findByRole('table', { name: 'Data key versions' });
    expect(within(table).getAllByRole('row')).toHaveLength(2);
    expect(within(table).getByRole('cell', { name: 'active' })).toBeInTheDocument();

    fireEvent.click(screen.getByRole('button', { name: 'Rotate data key' }));
    expect(await screen.findByRole('status')).toHaveTextContent('Data key rotated: new data is sealed with version 2');
    await waitFor(() => expect(within(table).getAllByRole('row')).toHaveLength(3));
    const rows = within(table).getAllByRole('row');
    expect(rows[1]).toHaveTextContent('v2');
    expect(rows[1]).toHaveTextContent('active');
    expect(rows[2]).toHaveTextContent('v1');
    expect(rows[2]).toHaveTextContent('retired');
    const rotation = calls.find((c) => c.method === 'POST');
    expect(rotation?.headers['Idempotency-Key']).toBeTruthy();
  });

  it("shows the server's detail when a rotation is refused", async () => {
    mockFetch((call) => {
      if (call.method === 'GET') return { body: { items: [{ version: 1, created_at: '2026-01-02T10:00:00Z', state: 'active' }] } };
      return { status: 403, body: { type: 'about:blank', title: 'Forbidden', status: 403, detail: 'Only owners and admins can do this.', code: 'forbidden' } };
    });
    renderWithProviders(<DataKeysSection orgId="o" />);
    await screen.findByRole('table', { name: 'Data key versions' });
    fireEvent.click(screen.getByRole('button', { name: 'Rotate data key' }));
    await waitFor(() => expect(screen.getByText('Only owners and admins can do this.')).toBeInTheDocument());
  });
});
