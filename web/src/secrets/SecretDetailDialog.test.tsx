import { afterEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { SecretDetailDialog } from './SecretDetailDialog';
import { mockFetch, renderWithProviders, secretRow } from '../test-utils';

describe('SecretDetailDialog', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('shows the read-only ID and saves only the changed fields', async () => {
    const row = secretRow();
    const calls = mockFetch((c) => {
      if (c.method === 'PATCH') {
        return { body: { ...row, version: 5, environments: { ...row.environments, staging: { set: true, version: 1, mask: '***' } } } };
      }
      return { body: row };
    });
    renderWithProviders(<SecretDetailDialog orgId="o" secretId={row.id} initial={row} currentEnv="all" role="editor" onClose={() => {}} onDelete={() => {}} />);
    const dialog = screen.getByRole('dialog', { name: 'STRIPE_SECRET_KEY' });
    expect(dialog).toBeInTheDocument();
    const id = screen.getByRole('textbox', { name: 'ID' });
    expect(id).toHaveValue(row.id);
    expect(id).toHaveAttribute('readonly');
    const save = screen.getByRole('button', { name: 'Save' });
    expect(save).toBeDisabled();
    fireEvent.change(screen.getByRole('textbox', { name: 'Staging value' }), { target: { value: 'stg-value' } });
    expect(save).toBeEnabled();
    fireEvent.click(save);
    await waitFor(() => expect(calls.some((c) => c.method === 'PATCH')).toBe(true));
    const patch = calls.find((c) => c.method === 'PATCH');
    expect(patch?.body).toEqual({ values: { staging: 'stg-value' }, expected_version: 4 });
    expect(await screen.findByText(/version 5/)).toBeInTheDocument();
    await waitFor(() => expect(screen.getByRole('button', { name: 'Save' })).toBeDisabled());
  });

  it('shows the amber banner and disables every field for a non-owner without rights', () => {
    const row = secretRow({ permissions: { reveal: true, modify: false, delete: false } });
    mockFetch(() => ({ body: row }));
    renderWithProviders(<SecretDetailDialog orgId="o" secretId={row.id} initial={row} currentEnv="production" role="editor" onClose={() => {}} onDelete={() => {}} />);
    expect(screen.getByRole('alert')).toHaveTextContent('Only Alice can modify this secret');
    for (const name of ['Description', 'Development value', 'Staging value', 'Production value']) {
      expect(screen.getByRole('textbox', { name })).toBeDisabled();
    }
    expect(screen.getByRole('button', { name: 'Save' })).toBeDisabled();
    expect(screen.getByRole('button', { name: /Delete secret/ })).toBeDisabled();
  });

  it('names the owner by email when they have no name', () => {
    const row = secretRow({ owner: { id: 'u2', email: 'bob@example.com', name: '' }, permissions: { reveal: true, modify: false, delete: false } });
    mockFetch(() => ({ body: row }));
    renderWithProviders(<SecretDetailDialog orgId="o" secretId={row.id} initial={row} currentEnv="all" role="viewer" onClose={() => {}} onDelete={() => {}} />);
    expect(screen.getByRole('alert')).toHaveTextContent('Only bob@example.com can modify this secret');
  });
});

describe('SecretDetailDialog closing', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('asks before discarding unsaved changes, and closes at once when clean', () => {
    const row = secretRow();
    mockFetch(() => ({ body: row }));
    const onClose = vi.fn();
    renderWithProviders(<SecretDetailDialog orgId="o" secretId={row.id} initial={row} currentEnv="all" role="owner" onClose={onClose} onDelete={() => {}} />);
    fireEvent.change(screen.getByRole('textbox', { name: 'Description' }), { target: { value: 'edited' } });
    fireEvent.click(screen.getByRole('button', { name: 'Close dialog' }));
    expect(onClose).not.toHaveBeenCalled();
    expect(screen.getByRole('alert')).toHaveTextContent('Discard your unsaved changes to description?');
    fireEvent.click(screen.getByRole('button', { name: 'Keep editing' }));
    expect(screen.getByRole('textbox', { name: 'Description' })).toHaveValue('edited');
    fireEvent.click(screen.getByRole('button', { name: 'Close dialog' }));
    fireEvent.click(screen.getByRole('button', { name: 'Discard and close' }));
    expect(onClose).toHaveBeenCalledTimes(1);
  });
});
