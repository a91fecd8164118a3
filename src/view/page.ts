/**
 * The viewer's HTML page: one self-contained document (styles, highlight.js
 * from the installed `@highlightjs/cdn-assets` package, the browser client
 * from src/view/client/ as scripts/build.mjs bundled it, and the boot data)
 * so it works without any network, from the local server or as a static file.
 *
 * The boot data is JSON in a `<script type="application/json">` element with
 * `<`, `>`, `&`, U+2028 and U+2029 escaped, so no file content or task text
 * can close the element; the client builds the DOM with `textContent` only
 * (highlight.js output, which escapes its input, is the one `innerHTML`).
 * A Content-Security-Policy allows only the page's own nonce'd scripts and
 * styles and requests to its own origin.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CkptError } from '../core/errors.js';
import { STYLES } from './styles.js';
import type { Boot } from './wire.js';

export type { Boot } from './wire.js';

/** Where scripts/build.mjs writes the bundled browser client, relative to the package root. */
export const CLIENT_BUNDLE = 'dist/view-client.js';

let hljsSource: string | null = null;

/** highlight.js's browser build (common languages), read once from node_modules; '' if missing. */
export function highlightScript(): string {
  if (hljsSource === null) {
    try {
      const req = createRequire(import.meta.url);
      hljsSource = readFileSync(req.resolve('@highlightjs/cdn-assets/highlight.min.js'), 'utf8');
    } catch {
      hljsSource = ''; // the page falls back to plain text
    }
  }
  return hljsSource;
}

let clientSource: string | null = null;

/** The package root: the nearest directory above this module with a package.json (from src/view/ or from dist/chunks/ alike). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return dir;
}

/**
 * The browser client (src/view/client/, bundled by scripts/build.mjs into
 * {@link CLIENT_BUNDLE}), read once.
 *
 * @throws CkptError `INTERNAL` when the bundle is missing (ckpt was not built).
 */
export function clientScript(): string {
  if (clientSource === null) {
    const file = path.join(packageRoot(), CLIENT_BUNDLE);
    try {
      clientSource = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CkptError('INTERNAL', `the viewer's browser script ${file} is missing`, { hint: 'Build ckpt first (npm run build).', cause: err });
    }
  }
  return clientSource;
}

/** JSON safe inside a `<script>` element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/**
 * The Content-Security-Policy of a page with this nonce. `frame-ancestors`
 * only works as a header (the server sends it), not in the page's `<meta>`.
 */
export function contentSecurityPolicy(nonce: string, asHeader = false): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    ...(asHeader ? ["frame-ancestors 'none'"] : []),
  ].join('; ');
}

/**
 * The page for `boot`. `nonce` must be fresh per response (base64url);
 * static reports carry the policy in a `<meta>` element.
 *
 * @throws CkptError `INTERNAL` when the browser client was not built.
 */
export function renderPage(boot: Boot, nonce: string): string {
  const title = boot.mode === 'race' && boot.race ? `ckpt race ${boot.race.id}` : `ckpt view ${boot.worktree ?? ''}`;
  const script = (src: string): string => src.replace(/<\/(script)/gi, '<\\/$1');
  return `<!doctype html>
<html lang="en" data-theme="light">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(contentSecurityPolicy(nonce))}">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style nonce="${nonce}">${STYLES}</style>
</head>
<body>
<div id="app"><p class="loading">Loading…</p></div>
<script type="application/json" id="ckpt-boot">${scriptJson(boot)}</script>
<script nonce="${nonce}">${script(highlightScript())}</script>
<script nonce="${nonce}">${script(clientScript())}</script>
</body>
</html>
`;
}
