import { afterEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { SecretDetailDialog } from './SecretDetailDialog';
import { instantOf } from './WhoHasAccess';
import { mockFetch, renderWithProviders, secretRow } from '../test-utils';
import type { AccessReview } from '../api';

const review = (row: ReturnType<typeof secretRow>, at: string): AccessReview => ({
  at,
  secret_id: row.id,
  secret_name: row.name,
  owner_id: 'u-eddie',
  subjects: [
    { kind: 'user', id: 'u-eddie', email: 'eddie@example.com', name: 'Eddie', role: 'editor', can: ['reveal', 'modify', 'delete', 'fetch'] },
    { kind: 'user', id: 'u-olive', email: 'olive@example.com', name: 'Olive', role: 'owner', can: ['reveal', 'modify', 'delete', 'fetch'] },
    { kind: 'user', id: 'u-root', email: 'root@example.com', name: 'Root', superadmin: true, can: ['reveal', 'modify', 'delete', 'fetch'] },
    { kind: 'user', id: 'u-vic', email: 'vic@example.com', name: 'Vic', role: 'viewer', can: [] },
    { kind: 'service_token', id: 't1', name: 'deploy', environments: ['production'], can: ['fetch'] },
  ],
});

describe('Who has access', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('lists people with their role and tokens with their scope, and what each can do', async () => {
    const row = secretRow();
    const calls = mockFetch((c) => {
      if (c.url.includes('/access?')) return { body: review(row, '2026-01-02T03:04:05Z') };
      return { body: row };
    });
    renderWithProviders(<SecretDetailDialog orgId="o" secretId={row.id} initial={row} currentEnv="all" role="admin" canReviewAccess onClose={() => {}} onDelete={() => {}} />);
    fireEvent.click(screen.getByRole('tab', { name: 'Who has access' }));
    const section = await screen.findByRole('region', { name: 'Who has access' });
    const people = await within(section).findByRole('table', { name: 'People (4)' });
    const rows = within(people).getAllByRole('row').slice(1);
    expect(rows.map((r) => r.textContent)).toEqual([
      'Eddieeddie@example.comowner of this secretEditorRevealModifyDeleteFetch',
      'Oliveolive@example.comOwnerRevealModifyDeleteFetch',
      'Rootroot@example.comSuper-adminRevealModifyDeleteFetch',
      'Vicvic@example.comViewerView only (masked)',
    ]);
    const tokens = within(section).getByRole('table', { name: 'Service tokens (1)' });
    expect(within(tokens).getAllByRole('row')[1]).toHaveTextContent('deployProductionNeverFetch');
    const first = calls.find((c) => c.url.includes('/access?'));
    expect(first?.url).toBe(`/api/v1/orgs/o/access?secret_id=${row.id}`);

    fireEvent.change(screen.getByLabelText('As of'), { target: { value: '2026-01-02T03:04:05' } });
    await waitFor(() => expect(calls.filter((c) => c.url.includes('/access?')).length).toBe(2));
    const second = new URL(calls.filter((c) => c.url.includes('/access?'))[1]?.url ?? '', 'http://x');
    expect(second.searchParams.get('at')).toBe(new Date('2026-01-02T03:04:05').toISOString());
  });

  it("shows the API's detail when the review is refused", async () => {
    const row = secretRow();
    mockFetch((c) => {
      if (c.url.includes('/access?')) {
        return { status: 404, body: { type: 'about:blank', title: 'Not Found', status: 404, detail: 'The secret did not exist at 2020-01-01T00:00:00Z.', code: 'not_found' } };
      }
      return { body: row };
    });
    renderWithProviders(<SecretDetailDialog orgId="o" secretId={row.id} initial={row} currentEnv="all" role="owner" canReviewAccess onClose={() => {}} onDelete={() => {}} />);
    fireEvent.click(screen.getByRole('tab', { name: 'Who has access' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('The secret did not exist at 2020-01-01T00:00:00Z.');
  });

  it('is offered only to those who may review access', () => {
    const row = secretRow();
    mockFetch(() => ({ body: row }));
    renderWithProviders(<SecretDetailDialog orgId="o" secretId={row.id} initial={row} currentEnv="all" role="editor" onClose={() => {}} onDelete={() => {}} />);
    expect(screen.queryByRole('tab', { name: 'Who has access' })).toBeNull();
  });

  it('turns the As of field into an instant', () => {
    expect(instantOf('')).toBeUndefined();
    expect(instantOf('nonsense')).toBeUndefined();
    expect(instantOf('2026-01-02T03:04')).toBe(new Date('2026-01-02T03:04').toISOString());
  });
});
