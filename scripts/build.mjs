// Bundles the CLI and the library with esbuild (code splitting, so each
// subcommand loads only what it needs: `ckpt hook claude` runs twice per agent
// tool call and its start-up time matters) and the viewer's browser client
// (build-client.mjs), then emits type declarations.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { buildClient } from './build-client.mjs';

// Small packages on the hook's path are bundled in (picocolors; proper-lockfile
// was, until ckpt's own lock replaced it: ~37 ms file by file, ~21 ms bundled,
// docs/architecture.md). zod, which every command's option schema
// uses, took 90-140 ms to load from node_modules here; bundled through the
// named exports of src/core/zod.ts (so only what the schemas use is kept,
// ~190 KB instead of 755 KB) it loads in ~40 ms under load. The hook path
// does not load it. Everything else stays an external import.
const BUNDLED = ['picocolors', 'zod'];
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const external = Object.keys(pkg.dependencies)
  .filter((name) => !BUNDLED.includes(name))
  .flatMap((name) => [name, `${name}/*`]);

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: { cli: 'src/cli/main.ts', index: 'src/index.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  // Bundled CommonJS code calls require() for Node's built-ins.
  banner: { js: "import { createRequire as __ckptCreateRequire } from 'node:module';\nconst require = __ckptCreateRequire(import.meta.url);" },
  sourcemap: true,
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
});
await buildClient();
if (!process.argv.includes('--no-types')) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
