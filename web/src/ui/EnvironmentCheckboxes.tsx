// Which environments something applies to (a service token reads, a webhook hears):
// one checkbox per environment, named after it, in a fieldset named by legend.
import type { ReactNode } from 'react';
import { ENVIRONMENTS, environmentName, type EnvSlug } from '../api';

interface EnvironmentCheckboxesProps {
  legend: string;
  checked: EnvSlug[];
  onChange: (checked: EnvSlug[]) => void;
  /** Said under the boxes, e.g. what none checked means. */
  hint?: ReactNode;
}

export function EnvironmentCheckboxes({ legend, checked, onChange, hint }: EnvironmentCheckboxesProps) {
  return (
    <fieldset className="fieldset">
      <legend>{legend}</legend>
      <div className="checkbox-row">
        {ENVIRONMENTS.map((env) => (
          <label key={env.slug} className="checkbox">
            <input
              type="checkbox"
              checked={checked.includes(env.slug)}
              onChange={(e) => onChange(e.target.checked ? [...checked, env.slug] : checked.filter((x) => x !== env.slug))}
            />
            {env.name}
          </label>
        ))}
      </div>
      {hint ? <div className="field-hint">{hint}</div> : null}
    </fieldset>
  );
}

/** The environments of a row as chips; none shows `none` (e.g. "All environments") when given. */
export function EnvironmentChips({ envs, none }: { envs: string[]; none?: string }) {
  if (envs.length === 0 && none) return <span className="muted">{none}</span>;
  return (
    <span className="chips">
      {envs.map((e) => (
        <span key={e} className={`chip env-chip env-${e}`}>
          {environmentName(e)}
        </span>
      ))}
    </span>
  );
}
