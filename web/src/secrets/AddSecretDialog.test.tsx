import { afterEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { AddSecretDialog } from './AddSecretDialog';
import { mockFetch, renderWithProviders, secretRow } from '../test-utils';

describe('AddSecretDialog', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('upper-cases the name as it is typed', () => {
    renderWithProviders(<AddSecretDialog orgId="o" currentEnv="development" onClose={() => {}} onCreated={() => {}} />);
    const name = screen.getByRole('textbox', { name: 'Name' });
    fireEvent.change(name, { target: { value: 'stripe secret-key' } });
    expect(name).toHaveValue('STRIPE_SECRET_KEY');
  });

  it('sends the name, description and only the filled values', async () => {
    const calls = mockFetch(() => ({ status: 201, body: secretRow({ name: 'DB_URL' }) }));
    const onCreated = vi.fn();
    renderWithProviders(<AddSecretDialog orgId="o" currentEnv="production" onClose={() => {}} onCreated={onCreated} />);
    fireEvent.change(screen.getByRole('textbox', { name: 'Name' }), { target: { value: 'db_url' } });
    fireEvent.change(screen.getByRole('textbox', { name: 'Description' }), { target: { value: 'Primary database' } });
    fireEvent.change(screen.getByRole('textbox', { name: 'Production value' }), { target: { value: 'postgres://prod' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create Secret' }));
    await waitFor(() => expect(onCreated).toHaveBeenCalled());
    expect(calls[0]).toMatchObject({
      method: 'POST',
      url: '/api/v1/orgs/o/secrets',
      body: { name: 'DB_URL', description: 'Primary database', values: { production: 'postgres://prod' } },
    });
  });

  it("shows the server's duplicate-name message inline", async () => {
    const detail = 'A secret named "DB_URL" already exists in this organization.';
    mockFetch(() => ({ status: 409, body: { type: 't', title: 'Conflict', status: 409, detail, code: 'secret_name_taken' } }));
    renderWithProviders(<AddSecretDialog orgId="o" currentEnv="all" onClose={() => {}} onCreated={() => {}} />);
    fireEvent.change(screen.getByRole('textbox', { name: 'Name' }), { target: { value: 'DB_URL' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create Secret' }));
    expect(await screen.findByText(detail)).toBeInTheDocument();
    expect(screen.getByRole('textbox', { name: 'Name' })).toHaveAttribute('aria-invalid', 'true');
  });

  it('refuses an invalid name before calling the server', () => {
    const calls = mockFetch(() => undefined);
    renderWithProviders(<AddSecretDialog orgId="o" currentEnv="all" onClose={() => {}} onCreated={() => {}} />);
    fireEvent.change(screen.getByRole('textbox', { name: 'Name' }), { target: { value: '9LIVES' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create Secret' }));
    expect(screen.getByText('A name cannot start with a digit.')).toBeInTheDocument();
    expect(calls).toHaveLength(0);
  });
});
