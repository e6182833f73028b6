// The secrets grid (AG Grid Community). In an environment view a row shows that environment's
// mask, version and value buttons; in "All environments" it shows where each secret is set.
import { useEffect, useMemo, useRef } from 'react';
import { AgGridReact } from 'ag-grid-react';
import {
  CellStyleModule,
  ClientSideRowModelModule,
  ColumnApiModule,
  HighlightChangesModule,
  ModuleRegistry,
  RowStyleModule,
  TooltipModule,
  ValidationModule,
  type ColDef,
  type GetRowIdParams,
  type RowClickedEvent,
  type CellKeyDownEvent,
  type SuppressKeyboardEventParams,
  type GridSizeChangedEvent,
} from 'ag-grid-community';
import { KeyRound } from 'lucide-react';
import { ENVIRONMENTS, type EnvSlug, type SecretRow } from '../api';
import { formatDate, formatRelative } from '../ui/dates';
import {
  ActionsCell,
  NameCell,
  OwnerCell,
  PresenceCell,
  SecretsGridReactContext,
  ValueCell,
  type SecretsGridContext,
} from './SecretCells';
import { ownerName } from './ownerName';
import { onSecretChange } from './useSecretChanges';

// Only the modules the grid uses, to keep the bundle small; ValidationModule names any
// missing one in the console during development.
ModuleRegistry.registerModules([
  ClientSideRowModelModule,
  ColumnApiModule,
  CellStyleModule,
  RowStyleModule,
  TooltipModule,
  HighlightChangesModule,
  ...(import.meta.env.DEV || import.meta.env.VITE_AG_GRID_VALIDATE ? [ValidationModule] : []),
]);

interface SecretsGridProps {
  rows: SecretRow[] | undefined;
  loading: boolean;
  context: SecretsGridContext;
  onOpen: (row: SecretRow) => void;
  emptyMessage: string;
}

function NoRowsOverlay({ message }: { message: string }) {
  return (
    <div className="grid-empty">
      <KeyRound size={28} aria-hidden="true" />
      <p>{message}</p>
    </div>
  );
}

/**
 * Lets Tab and Shift+Tab move through the buttons inside a cell (reveal, copy, edit, delete)
 * before AG Grid moves on to the next cell, so that every action is reachable by keyboard.
 */
export function tabThroughCellButtons({ event }: SuppressKeyboardEventParams<SecretRow>): boolean {
  if (event.key !== 'Tab' || event.type !== 'keydown') return false;
  const cell = (event.target as HTMLElement).closest<HTMLElement>('.ag-cell');
  if (!cell) return false;
  const buttons = [...cell.querySelectorAll<HTMLElement>('button:not([disabled])')];
  if (buttons.length === 0) return false;
  const at = buttons.indexOf(document.activeElement as HTMLElement);
  if (event.shiftKey) {
    if (at === -1) return false;
    if (at === 0) {
      event.preventDefault();
      cell.focus();
    }
    return true;
  }
  return at < buttons.length - 1;
}

/**
 * Whether a row click really was a click on a button inside the row (reveal, copy, edit,
 * delete). The button's own handler may already have re-rendered it, detaching the clicked
 * icon, so a detached target counts as a control too.
 */
function cameFromControl(event: Event | null | undefined): boolean {
  if (!event) return false;
  const isControl = (n: EventTarget) => n instanceof Element && n.matches('button, a, input, .tooltip-host');
  if (event.composedPath().some(isControl)) return true;
  const target = event.target as Element | null;
  return !target?.isConnected || Boolean(target.closest('button, a, input, .tooltip-host'));
}

/** Columns that give way in a narrow window, so that names, values and actions stay visible. */
const SECONDARY_COLUMNS = ['description', 'owner', 'updated', 'created_at'];
const NARROW_GRID_PX = 760;

function columnsFor(view: EnvSlug | 'all'): ColDef<SecretRow>[] {
  const name: ColDef<SecretRow> = {
    headerName: 'Name',
    field: 'name',
    cellRenderer: NameCell,
    minWidth: 180,
    flex: 1.3,
    sort: 'asc',
    comparator: (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0),
  };
  const description: ColDef<SecretRow> = {
    headerName: 'Description',
    field: 'description',
    flex: 1,
    minWidth: 120,
    tooltip: (p) => p.data?.description || undefined,
  };
  const owner: ColDef<SecretRow> = {
    headerName: 'Owner',
    colId: 'owner',
    valueGetter: (p) => ownerName(p.data?.owner),
    cellRenderer: OwnerCell,
    width: 150,
  };
  const actions: ColDef<SecretRow> = {
    headerName: 'Actions',
    colId: 'actions',
    cellRenderer: ActionsCell,
    suppressKeyboardEvent: tabThroughCellButtons,
    pinned: 'right',
    lockPinned: true,
    width: 96,
    sortable: false,
    resizable: false,
    suppressHeaderMenuButton: true,
    cellClass: 'actions-cell',
  };

  if (view === 'all') {
    const presence = ENVIRONMENTS.map<ColDef<SecretRow>>((env) => ({
      headerName: env.short,
      colId: env.slug,
      valueGetter: (p) => (p.data?.environments[env.slug]?.set ? 'Yes' : 'No'),
      cellRenderer: PresenceCell,
      width: 86,
    }));
    const created: ColDef<SecretRow> = {
      headerName: 'Created',
      field: 'created_at',
      valueFormatter: (p) => formatDate(p.value as string),
      width: 122,
    };
    return [name, description, ...presence, owner, created, actions];
  }

  const value: ColDef<SecretRow> = {
    headerName: 'Value',
    colId: 'value',
    valueGetter: (p) => p.data?.environments[view]?.mask ?? '',
    cellRenderer: ValueCell,
    cellClass: 'value-col',
    suppressKeyboardEvent: tabThroughCellButtons,
    minWidth: 260,
    width: 310,
    sortable: false,
  };
  const updated: ColDef<SecretRow> = {
    headerName: 'Updated',
    colId: 'updated',
    valueGetter: (p) => p.data?.environments[view]?.updated_at ?? p.data?.updated_at,
    valueFormatter: (p) => formatRelative(p.value as string),
    width: 112,
  };
  return [name, value, description, owner, updated, actions];
}

export function SecretsGrid({ rows, loading, context, onOpen, emptyMessage }: SecretsGridProps) {
  const gridRef = useRef<AgGridReact<SecretRow>>(null);
  const columnDefs = useMemo(() => columnsFor(context.view), [context.view]);

  // Flash a row that another user just changed, once the refreshed data has arrived.
  useEffect(
    () =>
      onSecretChange((notice) => {
        setTimeout(() => {
          const api = gridRef.current?.api;
          const node = api?.getRowNode(notice.secret_id);
          if (api && node) api.flashCells({ rowNodes: [node] });
        }, 600);
      }),
    [],
  );

  return (
    <SecretsGridReactContext.Provider value={context}>
    <div className="grid-frame ag-theme-quartz">
      <AgGridReact<SecretRow>
        ref={gridRef}
        theme="legacy"
        rowData={rows ?? []}
        loading={loading}
        columnDefs={columnDefs}
        defaultColDef={{ sortable: true, resizable: true, suppressMovable: false }}
        getRowId={(p: GetRowIdParams<SecretRow>) => p.data.id}
        rowHeight={48}
        headerHeight={42}
        animateRows
        ensureDomOrder
        suppressDragLeaveHidesColumns
        tooltipShowDelay={400}
        noRowsOverlayComponent={NoRowsOverlay}
        noRowsOverlayComponentParams={{ message: emptyMessage }}
        rowClass="secret-row"
        onGridSizeChanged={(e: GridSizeChangedEvent<SecretRow>) => {
          e.api.setColumnsVisible(SECONDARY_COLUMNS.filter((id) => e.api.getColumn(id)), e.clientWidth >= NARROW_GRID_PX);
        }}
        onRowClicked={(e: RowClickedEvent<SecretRow>) => {
          if (e.data && !cameFromControl(e.event)) onOpen(e.data);
        }}
        onCellKeyDown={(e: CellKeyDownEvent<SecretRow>) => {
          const ke = e.event as KeyboardEvent | undefined;
          if (ke?.key === 'Enter' && e.data && !(ke.target as HTMLElement).closest('button')) onOpen(e.data);
        }}
      />
    </div>
    </SecretsGridReactContext.Provider>
  );
}
