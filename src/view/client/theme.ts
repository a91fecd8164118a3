/** The light/dark theme: the saved choice, else the system's; `t` toggles it. */

const KEY = 'ckpt-theme';

/** Sets `data-theme` on the document from the saved choice or `prefers-color-scheme`. */
export function initTheme(): void {
  let t: string | null = null;
  try {
    t = localStorage.getItem(KEY);
  } catch {
    t = null;
  }
  if (!t) t = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  document.documentElement.dataset.theme = t;
}

/** Switches between light and dark and saves the choice where storage exists. */
export function toggleTheme(): void {
  const t = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = t;
  try {
    localStorage.setItem(KEY, t);
  } catch {
    /* file:// pages may have no storage */
  }
}
