// Bundles the viewer's browser client (src/view/client/, typed with the DOM
// library by its own tsconfig) into one IIFE, dist/view-client.js, which
// src/view/page.ts reads and inlines into the page as it does highlight.js.
// Written to a temporary file and renamed, so a page being served while this
// runs reads the old bundle or the new one, never half of one.
import { build } from 'esbuild';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Where the bundle goes, relative to the package root (page.ts's CLIENT_BUNDLE). */
export const CLIENT_BUNDLE = 'dist/view-client.js';

/** Builds the bundle under `root` (the package root). */
export async function buildClient(root = process.cwd()) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['src/view/client/main.ts'],
    tsconfig: 'src/view/client/tsconfig.json',
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    legalComments: 'none',
    charset: 'utf8',
    write: false,
    logLevel: 'warning',
  });
  const out = path.join(root, CLIENT_BUNDLE);
  mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, result.outputFiles[0].contents);
  renameSync(tmp, out);
}
