import { afterEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { DeleteSecretDialog } from './DeleteSecretDialog';
import { mockFetch, renderWithProviders, secretRow } from '../test-utils';

describe('DeleteSecretDialog', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('enables Delete only when the text is exactly "delete"', () => {
    renderWithProviders(<DeleteSecretDialog orgId="o" secret={secretRow()} onClose={() => {}} onDeleted={() => {}} />);
    const input = screen.getByRole('textbox', { name: 'Type delete to confirm' });
    const button = screen.getByRole('button', { name: 'Delete' });
    expect(button).toBeDisabled();
    for (const typed of ['del', 'Delete', 'DELETE', 'delete ', ' delete']) {
      fireEvent.change(input, { target: { value: typed } });
      expect(button).toBeDisabled();
    }
    fireEvent.change(input, { target: { value: 'delete' } });
    expect(button).toBeEnabled();
  });

  it('in an environment view deletes only that environment by default, and says so', async () => {
    const calls = mockFetch(() => ({ status: 204 }));
    const onDeleted = vi.fn();
    renderWithProviders(<DeleteSecretDialog orgId="o" secret={secretRow()} env="production" onClose={() => {}} onDeleted={onDeleted} />);
    expect(screen.getByRole('dialog', { name: 'Delete secret' })).toHaveTextContent('deletes the Production value of STRIPE_SECRET_KEY only');
    expect(screen.getByRole('radio', { name: 'Only the Production value' })).toBeChecked();
    fireEvent.change(screen.getByRole('textbox', { name: 'Type delete to confirm' }), { target: { value: 'delete' } });
    fireEvent.click(screen.getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(onDeleted).toHaveBeenCalledWith('env'));
    expect(calls[0]).toMatchObject({ method: 'DELETE', url: `/api/v1/orgs/o/secrets/${secretRow().id}?env=production` });
  });

  it('can delete the whole secret from an environment view when chosen explicitly', async () => {
    const calls = mockFetch(() => ({ status: 204 }));
    const onDeleted = vi.fn();
    renderWithProviders(<DeleteSecretDialog orgId="o" secret={secretRow()} env="production" onClose={() => {}} onDeleted={onDeleted} />);
    fireEvent.click(screen.getByRole('radio', { name: 'The whole secret, in all environments' }));
    expect(screen.getByRole('dialog')).toHaveTextContent('in every environment');
    fireEvent.change(screen.getByRole('textbox', { name: 'Type delete to confirm' }), { target: { value: 'delete' } });
    fireEvent.click(screen.getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(onDeleted).toHaveBeenCalledWith('secret'));
    expect(calls[0]?.url).toBe(`/api/v1/orgs/o/secrets/${secretRow().id}`);
  });
});
