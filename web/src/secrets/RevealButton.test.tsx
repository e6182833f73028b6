import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, fireEvent, screen } from '@testing-library/react';
import { RevealButton } from './RevealButton';
import { mockFetch, renderWithProviders, secretRow } from '../test-utils';

describe('RevealButton', () => {
  beforeEach(() => vi.useFakeTimers({ shouldAdvanceTime: true }));
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('reveals through the audited endpoint and re-masks by itself after 30 seconds', async () => {
    const calls = mockFetch(() => ({ body: { value: 'sk_live_plain', env: 'production', version: 1, hide_after_seconds: 30 } }));
    const { reveals } = renderWithProviders(<RevealButton orgId="o" secret={secretRow()} env="production" />);
    fireEvent.click(screen.getByRole('button', { name: 'Reveal value' }));
    expect(await screen.findByRole('button', { name: 'Hide value' })).toBeInTheDocument();
    expect(calls[0]).toMatchObject({ method: 'POST', url: `/api/v1/orgs/o/secrets/${secretRow().id}/reveal`, body: { env: 'production' } });
    expect(reveals.getSnapshot().size).toBe(1);
    act(() => {
      vi.advanceTimersByTime(29_000);
    });
    expect(screen.getByRole('button', { name: 'Hide value' })).toBeInTheDocument();
    act(() => {
      vi.advanceTimersByTime(1_000);
    });
    expect(screen.getByRole('button', { name: 'Reveal value' })).toBeInTheDocument();
    expect(reveals.getSnapshot().size).toBe(0);
  });

  it('hides on a second click', async () => {
    mockFetch(() => ({ body: { value: 'v', env: 'development', version: 2, hide_after_seconds: 30 } }));
    renderWithProviders(<RevealButton orgId="o" secret={secretRow()} env="development" />);
    fireEvent.click(screen.getByRole('button', { name: 'Reveal value' }));
    fireEvent.click(await screen.findByRole('button', { name: 'Hide value' }));
    expect(screen.getByRole('button', { name: 'Reveal value' })).toBeInTheDocument();
  });

  it('is disabled with the reason when the row does not allow revealing', () => {
    renderWithProviders(
      <RevealButton orgId="o" secret={secretRow({ permissions: { reveal: false, modify: false, delete: false } })} env="production" revealPolicy="disabled" />,
    );
    const button = screen.getByRole('button', { name: 'Reveal value' });
    expect(button).toBeDisabled();
    expect(button).toHaveAccessibleDescription('Revealing values is disabled for this organization');
  });

  it("shows the problem's detail when the server refuses", async () => {
    mockFetch(() => ({ status: 403, body: { type: 't', title: 'Forbidden', status: 403, detail: 'Revealing values is disabled in this organization.', code: 'reveal_disabled' } }));
    renderWithProviders(<RevealButton orgId="o" secret={secretRow()} env="production" />);
    fireEvent.click(screen.getByRole('button', { name: 'Reveal value' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Revealing values is disabled in this organization.');
  });
});
