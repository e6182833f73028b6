import { Moon, Sun } from 'lucide-react';
import { useTheme } from '../theme';
import { WithTooltip } from '../ui/IconButton';

export function ThemeToggle() {
  const [theme, toggle] = useTheme();
  return (
    <WithTooltip text={theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme'}>
      <button type="button" className="icon-button header-button" aria-label="Toggle theme" onClick={toggle}>
        {theme === 'dark' ? <Sun size={18} aria-hidden="true" /> : <Moon size={18} aria-hidden="true" />}
      </button>
    </WithTooltip>
  );
}
