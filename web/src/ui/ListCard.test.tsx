import { describe, expect, it } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import { ApiError } from '../api';
import { ListCard } from './ListCard';

const idle = { isPending: false, isError: false, error: null };

function card(query: { isPending: boolean; isError: boolean; error: unknown }, isEmpty = false) {
  return render(
    <ListCard query={query} isEmpty={isEmpty} loadingRows={2} loadError="The tokens could not be loaded." empty={<p>No tokens</p>} columns={['Name', 'Created']}>
      <tr>
        <td>deploy</td>
        <td>today</td>
        <td>
          <button type="button">Revoke deploy</button>
        </td>
      </tr>
    </ListCard>,
  );
}

describe('ListCard', () => {
  it('shows the rows under the named columns and an unnamed Actions column', () => {
    card(idle);
    const table = screen.getByRole('table');
    const headers = within(table).getAllByRole('columnheader').map((h) => h.textContent);
    expect(headers).toEqual(['Name', 'Created', 'Actions']);
    expect(within(table).getByRole('button', { name: 'Revoke deploy' })).toBeInTheDocument();
  });

  it("shows the server's detail when the list cannot be loaded, else its own sentence", () => {
    const { unmount } = card({ isPending: false, isError: true, error: new ApiError({ status: 403, code: 'forbidden', detail: 'Only admins may list tokens.' }) });
    expect(screen.getByRole('alert')).toHaveTextContent('Only admins may list tokens.');
    expect(screen.queryByRole('table')).toBeNull();
    unmount();
    card({ isPending: false, isError: true, error: new TypeError('Failed to fetch') });
    expect(screen.getByRole('alert')).toHaveTextContent('The tokens could not be loaded.');
  });

  it('shows the empty state, and nothing but placeholders while loading', () => {
    const { unmount } = card(idle, true);
    expect(screen.getByText('No tokens')).toBeInTheDocument();
    expect(screen.queryByRole('table')).toBeNull();
    unmount();
    card({ isPending: true, isError: false, error: null });
    expect(screen.queryByRole('table')).toBeNull();
    expect(screen.queryByText('No tokens')).toBeNull();
  });
});
