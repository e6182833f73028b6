// Copies one environment's plaintext: the revealed value when it is on screen, otherwise a
// fresh (audited) reveal whose value goes to the clipboard without being displayed.
import { useState } from 'react';
import { Check, Copy } from 'lucide-react';
import { api, environmentName, type EnvSlug, type SecretRow } from '../api';
import { IconButton } from '../ui/IconButton';
import { useToast } from '../ui/Toasts';
import { copyText } from './clipboard';
import { useRevealed } from './RevealStoreContext';
import { revealDeniedReason } from './RevealButton';

export function CopyValueButton({ orgId, secret, env, revealPolicy }: { orgId: string; secret: SecretRow; env: EnvSlug; revealPolicy?: string }) {
  const revealed = useRevealed(secret.id, env);
  const [busy, setBusy] = useState(false);
  const [copied, setCopied] = useState(false);
  const toast = useToast();

  const copy = async () => {
    setBusy(true);
    try {
      const value = revealed?.value ?? (await api.revealSecret(orgId, secret.id, env)).value;
      await copyText(value);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
      toast.success(`Copied the ${environmentName(env)} value of ${secret.name}`);
    } catch (err) {
      toast.error(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <IconButton
      label="Copy value"
      icon={copied ? <Check size={16} aria-hidden="true" /> : <Copy size={16} aria-hidden="true" />}
      onClick={copy}
      busy={busy}
      disabledReason={revealDeniedReason(secret, revealPolicy)}
    />
  );
}
