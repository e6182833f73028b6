// "Skip to main content": the first Tab stop of every organization page, so that a keyboard
// user reaches the page past the sidebar and header in one step (WCAG 2.4.1).
import { MAIN_CONTENT_ID } from '../ui/Dialog';

export function SkipLink() {
  return (
    <a
      className="skip-link"
      href={`#${MAIN_CONTENT_ID}`}
      onClick={(e) => {
        // Focus the main content without a fragment in the URL, which the router would keep.
        e.preventDefault();
        document.getElementById(MAIN_CONTENT_ID)?.focus();
      }}
    >
      Skip to main content
    </a>
  );
}
