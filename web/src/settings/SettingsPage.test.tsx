import { afterEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { SettingsPage } from './SettingsPage';
import { accessFor, OrgAccessProvider } from '../session';
import { mockFetch, renderWithProviders } from '../test-utils';
import type { Me, Organization } from '../api';

const ORG = '3d8a7a8e-1f4b-4c55-9c1e-2b8f0a6d9e11';
const ME: Me = {
  user: { id: 'u1', email: 'olive@example.com', name: 'Olive', superadmin: false },
  memberships: [{ org_id: ORG, org_name: 'Acme Corp', role: 'owner' }],
};
const DETAILS: Organization = { id: ORG, name: 'Acme Corp', role: 'owner', reveal_policy: 'allowed', created_at: '2026-01-02T10:00:00Z' };

function page(org: Organization | undefined) {
  const access = accessFor(ME, ORG, org);
  if (!access) throw new Error('no access');
  return (
    <OrgAccessProvider value={access}>
      <SettingsPage />
    </OrgAccessProvider>
  );
}

describe('SettingsPage', () => {
  afterEach(() => vi.unstubAllGlobals());

  // The organization's details arrive after the page is shown (or are fetched again
  // while it is open): an edit made meanwhile stays, and can be saved. The form used
  // to take the details as they arrived, and a reveal policy chosen before them was
  // set back to the stored one, with "Save changes" disabled.
  it('keeps an edit made before the organization details arrive, and saves it', async () => {
    const calls = mockFetch((call) => {
      if (call.method === 'PATCH') return { body: { ...DETAILS, reveal_policy: 'disabled', name: 'Acme Labs' } };
      if (call.url.endsWith('/keys')) return { body: { items: [] } };
      return undefined;
    });
    const view = renderWithProviders(page(undefined));
    fireEvent.click(screen.getByRole('radio', { name: /Disabled/ }));
    fireEvent.change(screen.getByRole('textbox', { name: 'Organization name' }), { target: { value: 'Acme Labs' } });

    view.rerender(page(DETAILS));
    expect(screen.getByRole('radio', { name: /Disabled/ })).toBeChecked();
    expect(screen.getByRole('textbox', { name: 'Organization name' })).toHaveValue('Acme Labs');
    const save = screen.getByRole('button', { name: 'Save changes' });
    expect(save).toBeEnabled();

    fireEvent.click(save);
    expect(await screen.findByRole('status')).toHaveTextContent('Settings saved');
    const patch = calls.find((c) => c.method === 'PATCH');
    expect(patch?.body).toEqual({ name: 'Acme Labs', reveal_policy: 'disabled' });

    // Saved: the form follows the organization again.
    view.rerender(page({ ...DETAILS, reveal_policy: 'disabled', name: 'Acme Labs' }));
    await waitFor(() => expect(screen.getByRole('button', { name: 'Save changes' })).toBeDisabled());
    view.rerender(page({ ...DETAILS, reveal_policy: 'allowed', name: 'Acme Labs' }));
    expect(screen.getByRole('radio', { name: /Allowed/ })).toBeChecked();
  });
});
