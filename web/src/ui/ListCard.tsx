// The card that holds an admin page's list (members, service tokens, webhooks): rows of
// placeholder while it loads, the server's reason when it cannot, the empty state when
// there is nothing yet, else a table whose last column holds each row's actions.
import type { ReactNode } from 'react';
import { ApiError } from '../api';
import { SkeletonRows } from './States';

interface ListCardProps {
  /** The list's query as TanStack Query reports it. */
  query: { isPending: boolean; isError: boolean; error: unknown };
  isEmpty: boolean;
  /** How many placeholder rows to show while loading (about what a list usually holds). */
  loadingRows: number;
  /** Said when the failure is not the server's (a network error): "The webhooks could not be loaded." */
  loadError: string;
  empty: ReactNode;
  /** Column headers; an unnamed Actions column follows them. */
  columns: string[];
  /** The table's rows. */
  children: ReactNode;
}

export function ListCard({ query, isEmpty, loadingRows, loadError, empty, columns, children }: ListCardProps) {
  return (
    <div className="card">
      {query.isPending ? (
        <SkeletonRows rows={loadingRows} />
      ) : query.isError ? (
        <div className="banner banner-error" role="alert">
          {query.error instanceof ApiError ? query.error.detail : loadError}
        </div>
      ) : isEmpty ? (
        empty
      ) : (
        <table className="table">
          <thead>
            <tr>
              {columns.map((c) => (
                <th key={c} scope="col">
                  {c}
                </th>
              ))}
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>{children}</tbody>
        </table>
      )}
    </div>
  );
}
