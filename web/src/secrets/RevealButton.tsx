// The eye button: reveals one environment's plaintext through the audited reveal endpoint,
// and hides it again on a second click or by itself after hide_after_seconds (30 s).
import { useState } from 'react';
import { Eye, EyeOff } from 'lucide-react';
import { api, type EnvSlug, type SecretRow } from '../api';
import { IconButton } from '../ui/IconButton';
import { useToast } from '../ui/Toasts';
import { revealKey } from './revealStore';
import { useRevealed, useRevealStore } from './RevealStoreContext';

export function revealDeniedReason(secret: SecretRow, revealPolicy?: string): string | undefined {
  if (secret.permissions.reveal) return undefined;
  if (revealPolicy === 'disabled') return 'Revealing values is disabled for this organization';
  return 'Your role may not reveal this value';
}

export function RevealButton({ orgId, secret, env, revealPolicy }: { orgId: string; secret: SecretRow; env: EnvSlug; revealPolicy?: string }) {
  const store = useRevealStore();
  const revealed = useRevealed(secret.id, env);
  const [busy, setBusy] = useState(false);
  const toast = useToast();
  const key = revealKey(secret.id, env);

  const toggle = async () => {
    if (revealed) {
      store.hide(key);
      return;
    }
    setBusy(true);
    try {
      const res = await api.revealSecret(orgId, secret.id, env);
      store.reveal(key, res.value, res.version, res.hide_after_seconds);
    } catch (err) {
      toast.error(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <IconButton
      label={revealed ? 'Hide value' : 'Reveal value'}
      icon={revealed ? <EyeOff size={16} aria-hidden="true" /> : <Eye size={16} aria-hidden="true" />}
      onClick={toggle}
      busy={busy}
      pressed={Boolean(revealed)}
      tone={revealed ? 'active' : 'default'}
      disabledReason={revealDeniedReason(secret, revealPolicy)}
    />
  );
}
