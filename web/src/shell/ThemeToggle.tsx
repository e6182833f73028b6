import { Moon, Sun } from 'lucide-react';
import { useTheme } from '../theme';

export function ThemeToggle() {
  const [theme, toggle] = useTheme();
  return (
    <span className="tooltip-host tooltip-below" data-tooltip={theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme'}>
      <button type="button" className="icon-button header-button" aria-label="Toggle theme" onClick={toggle}>
        {theme === 'dark' ? <Sun size={18} aria-hidden="true" /> : <Moon size={18} aria-hidden="true" />}
      </button>
    </span>
  );
}
