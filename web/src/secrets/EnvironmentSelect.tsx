// The Environment dropdown above the list: one environment, or all of them side by side.
import { ChevronDown, Layers } from 'lucide-react';
import { ENVIRONMENTS, type EnvSlug } from '../api';

export type SecretsView = EnvSlug | 'all';

export function viewLabel(view: SecretsView): string {
  return view === 'all' ? 'All environments' : (ENVIRONMENTS.find((e) => e.slug === view)?.name ?? view);
}

export function parseView(raw: string | null): SecretsView {
  if (raw === 'all') return 'all';
  return ENVIRONMENTS.find((e) => e.slug === raw)?.slug ?? 'development';
}

export function EnvironmentSelect({ value, onChange }: { value: SecretsView; onChange: (v: SecretsView) => void }) {
  return (
    <div className={`select-wrap env-select env-${value}`}>
      <Layers size={16} aria-hidden="true" className="select-icon" />
      <select aria-label="Environment" className="select" value={value} onChange={(e) => onChange(parseView(e.target.value))}>
        {ENVIRONMENTS.map((env) => (
          <option key={env.slug} value={env.slug}>
            {env.name}
          </option>
        ))}
        <option value="all">All environments</option>
      </select>
      <ChevronDown size={16} aria-hidden="true" className="select-chevron" />
    </div>
  );
}
