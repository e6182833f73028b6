// Rendering helpers for component tests: the providers every dashboard component expects.
import type { ReactElement, ReactNode } from 'react';
import { render } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { vi } from 'vitest';
import { ToastProvider } from './ui/Toasts';
import { RevealStore } from './secrets/revealStore';
import { RevealStoreProvider } from './secrets/RevealStoreContext';
import type { SecretRow } from './api';

export function renderWithProviders(ui: ReactElement, { reveals = new RevealStore(), initialPath = '/' } = {}) {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={queryClient}>
      <RevealStoreProvider store={reveals}>
        <ToastProvider>
          <MemoryRouter initialEntries={[initialPath]}>{children}</MemoryRouter>
        </ToastProvider>
      </RevealStoreProvider>
    </QueryClientProvider>
  );
  return { ...render(ui, { wrapper }), queryClient, reveals };
}

export function secretRow(overrides: Partial<SecretRow> = {}): SecretRow {
  return {
    id: '0b6f4f55-8d0e-4a43-9a52-8a3c1f0c5e01',
    name: 'STRIPE_SECRET_KEY',
    description: 'Stripe live key',
    owner: { id: 'u1', email: 'alice@example.com', name: 'Alice' },
    created_at: '2026-01-02T10:00:00Z',
    updated_at: '2026-01-03T10:00:00Z',
    version: 4,
    environments: {
      development: { set: true, version: 2, mask: 'sk_test_***x9Q2', updated_at: '2026-01-03T10:00:00Z' },
      staging: { set: false },
      production: { set: true, version: 1, mask: 'sk_live_***RgA1', updated_at: '2026-01-02T10:00:00Z' },
    },
    permissions: { reveal: true, modify: true, delete: true },
    ...overrides,
  };
}

export interface RecordedCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

/** Replaces fetch with a router of canned JSON answers and records every call. */
export function mockFetch(route: (call: RecordedCall) => { status?: number; body?: unknown } | undefined) {
  const calls: RecordedCall[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const call: RecordedCall = {
      method: init?.method ?? 'GET',
      url: String(input),
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    };
    calls.push(call);
    const answer = route(call) ?? { status: 404, body: { type: 'about:blank', title: 'Not Found', status: 404, detail: 'No such resource.', code: 'not_found' } };
    const status = answer.status ?? 200;
    const isProblem = status >= 400;
    return new Response(status === 204 ? null : JSON.stringify(answer.body ?? {}), {
      status,
      headers: { 'Content-Type': isProblem ? 'application/problem+json' : 'application/json' },
    });
  });
  vi.stubGlobal('fetch', fn);
  return calls;
}
