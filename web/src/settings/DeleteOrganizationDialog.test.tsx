import { afterEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { Route, Routes } from 'react-router';
import { DeleteOrganizationDialog, isOrgNameConfirmed } from './DeleteOrganizationDialog';
import { DangerZone } from './DangerZone';
import { accessFor, OrgAccessProvider } from '../session';
import { mockFetch, renderWithProviders } from '../test-utils';
import type { Me, Role } from '../api';

const ORG = '3d8a7a8e-1f4b-4c55-9c1e-2b8f0a6d9e11';
const NAME = 'Acme Corp';

function me(role: Role, superadmin = false): Me {
  return {
    user: { id: 'u1', email: 'olive@example.com', name: 'Olive', superadmin },
    memberships: [
      { org_id: ORG, org_name: NAME, role },
      { org_id: 'other', org_name: 'Other', role: 'owner' },
    ],
  };
}

describe('isOrgNameConfirmed', () => {
  it('accepts only the exact name', () => {
    expect(isOrgNameConfirmed(NAME, NAME)).toBe(true);
    for (const typed of ['', 'acme corp', 'ACME CORP', ' Acme Corp', 'Acme Corp ', 'Acme']) {
      expect(isOrgNameConfirmed(typed, NAME)).toBe(false);
    }
    expect(isOrgNameConfirmed('', '')).toBe(false);
  });
});

describe('DeleteOrganizationDialog', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('enables "Delete organization" only when the text is exactly the name', () => {
    renderWithProviders(<DeleteOrganizationDialog orgId={ORG} orgName={NAME} onClose={() => {}} />);
    const dialog = screen.getByRole('dialog', { name: 'Delete organization' });
    expect(dialog).toHaveTextContent('cannot be undone');
    const input = screen.getByRole('textbox', { name: "Type the organization's name to confirm" });
    const button = screen.getByRole('button', { name: 'Delete organization' });
    expect(button).toBeDisabled();
    for (const typed of ['Acme', 'acme corp', 'Acme Corp ', 'delete']) {
      fireEvent.change(input, { target: { value: typed } });
      expect(button).toBeDisabled();
    }
    fireEvent.change(input, { target: { value: NAME } });
    expect(button).toBeEnabled();
  });

  it('sends the name as confirm and lands on the home page, which picks another organization', async () => {
    const calls = mockFetch((call) => {
      if (call.method === 'DELETE') return { status: 204 };
      if (call.url === '/api/v1/me') return { body: { ...me('owner'), memberships: me('owner').memberships.slice(1) } };
      return undefined;
    });
    renderWithProviders(
      <Routes>
        <Route path="/" element={<p>home page</p>} />
        <Route path="*" element={<DeleteOrganizationDialog orgId={ORG} orgName={NAME} onClose={() => {}} />} />
      </Routes>,
      { initialPath: `/orgs/${ORG}/settings` },
    );
    fireEvent.change(screen.getByRole('textbox', { name: "Type the organization's name to confirm" }), { target: { value: NAME } });
    fireEvent.click(screen.getByRole('button', { name: 'Delete organization' }));
    await waitFor(() => expect(screen.getByText('home page')).toBeInTheDocument());
    expect(calls[0]).toMatchObject({ method: 'DELETE', url: `/api/v1/orgs/${ORG}`, body: { confirm: NAME } });
    expect(calls.some((c) => c.url === '/api/v1/me')).toBe(true);
  });

  it('shows the API refusal and stays', async () => {
    mockFetch(() => ({
      status: 403,
      body: { type: 'urn:keyledger:problem:forbidden', title: 'Forbidden', status: 403, detail: 'Only an owner can delete the organization.', code: 'forbidden' },
    }));
    renderWithProviders(<DeleteOrganizationDialog orgId={ORG} orgName={NAME} onClose={() => {}} />);
    fireEvent.change(screen.getByRole('textbox', { name: "Type the organization's name to confirm" }), { target: { value: NAME } });
    fireEvent.click(screen.getByRole('button', { name: 'Delete organization' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Only an owner can delete the organization.');
    expect(screen.getByRole('dialog', { name: 'Delete organization' })).toBeInTheDocument();
  });
});

describe('DangerZone', () => {
  function renderZone(m: Me) {
    const access = accessFor(m, ORG, undefined);
    if (!access) throw new Error('no access');
    return renderWithProviders(
      <OrgAccessProvider value={access}>
        <DangerZone />
      </OrgAccessProvider>,
    );
  }

  it('offers owners and super-admins the button that opens the dialog', () => {
    for (const m of [me('owner'), me('viewer', true)]) {
      const { unmount } = renderZone(m);
      fireEvent.click(screen.getByRole('button', { name: 'Delete organization' }));
      expect(screen.getByRole('dialog', { name: 'Delete organization' })).toBeInTheDocument();
      unmount();
    }
  });

  it('is not shown to admins', () => {
    renderZone(me('admin'));
    expect(screen.queryByRole('button', { name: 'Delete organization' })).toBeNull();
  });
});
