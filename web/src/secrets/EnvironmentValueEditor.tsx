// One environment's value in the detail view: its current mask and version, a field for a
// new value, and "Remove" (undoable until Save).
import { Undo2 } from 'lucide-react';
import type { EnvironmentInfo, EnvironmentValue } from '../api';
import { formatRelative } from '../ui/dates';
import type { ValueEdit } from './secretDraft';

interface EnvironmentValueEditorProps {
  env: EnvironmentInfo;
  state: EnvironmentValue | undefined;
  edit: ValueEdit;
  canModify: boolean;
  onType: (value: string) => void;
  onRemove: (removed: boolean) => void;
}

export function EnvironmentValueEditor({ env, state, edit, canModify, onType, onRemove }: EnvironmentValueEditorProps) {
  const removing = edit.kind === 'remove';
  const fieldId = `secret-edit-${env.slug}`;
  return (
    <div className={`env-value${removing ? ' removing' : ''}${edit.kind === 'set' ? ' changed' : ''}`}>
      <div className="env-value-header">
        <label htmlFor={fieldId} className="env-value-label">
          {env.name} value
        </label>
        {state?.set ? (
          <span className="env-value-state">
            <code className="value-mask">{state.mask ?? '***'}</code>
            <span className="version-badge">v{state.version}</span>
            <span className="muted">{formatRelative(state.updated_at)}</span>
          </span>
        ) : (
          <span className="env-value-state muted">Not set</span>
        )}
      </div>
      {removing ? (
        <div className="env-value-removing">
          <span>The {env.name} value will be removed when you save.</span>
          <button type="button" className="button button-secondary button-sm" onClick={() => onRemove(false)}>
            <Undo2 size={14} aria-hidden="true" /> Keep it
          </button>
        </div>
      ) : (
        <div className="env-value-input">
          <textarea
            id={fieldId}
            className="input input-mono textarea-value"
            rows={1}
            spellCheck={false}
            autoComplete="off"
            value={edit.kind === 'set' ? edit.value : ''}
            placeholder={state?.set ? 'Type a new value to replace it' : `Type a value to set it in ${env.name}`}
            onChange={(e) => onType(e.target.value)}
          />
          {state?.set && canModify ? (
            <button type="button" className="button button-ghost-danger button-sm" aria-label={`Remove ${env.name} value`} onClick={() => onRemove(true)}>
              Remove
            </button>
          ) : null}
        </div>
      )}
    </div>
  );
}
