/**
 * The viewer's browser client, bundled by scripts/build.mjs (esbuild, one
 * IIFE) into dist/view-client.js, which page.ts inlines into the page after
 * highlight.js. It reads the boot JSON (src/view/wire.ts's `Boot`), talks to
 * the local server with the token header (or uses the inlined data of a
 * static report), and builds the DOM from text only (dom.ts).
 *
 * Layout: a header (task, base, filters, theme), the summary table with a
 * timeline and a pick button per attempt, then file by file a grid whose
 * columns are the base and each attempt; adjacent attempts that made the same
 * change share one cell ("same in claude, codex"). File bodies are rendered
 * only when they come near the viewport. Keys: j/n, k/p next/previous file;
 * d / D next/previous disagreement; t theme; Esc closes panels.
 */
import type { Boot } from '../wire.js';
import { createApi } from './api.js';
import { byId, note } from './dom.js';
import { installKeys } from './keys.js';
import { renderRace } from './race-page.js';
import { createRaceView, type Ctx } from './state.js';
import { initTheme } from './theme.js';
import { renderWorktree } from './worktree-page.js';

function start(): void {
  const app = byId('app');
  const bootText = byId('ckpt-boot')?.textContent;
  if (!app || !bootText) return;
  const boot = JSON.parse(bootText) as Boot;
  const ctx: Ctx = { boot, api: createApi(boot.token) };
  initTheme();
  if (boot.mode === 'worktree') installKeys(renderWorktree(ctx, app));
  else if (boot.race && boot.index) installKeys(renderRace(createRaceView(ctx, boot.race, boot.index), app));
  else app.replaceChildren(note('This page has no race to show.', 'notice'));
}

start();
