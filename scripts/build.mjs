// Bundles the CLI and the library with esbuild (code splitting, so each
// subcommand loads only what it needs: `ckpt hook claude` runs twice per agent
// tool call and its start-up time matters), the hook's own entry (dist/hook.cjs,
// one file, below) and the viewer's browser client
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
// The installed hook command's entry (src/hook/main.ts, bin/ckpt-hook.cjs): one
// file holding everything the daemon's path runs, with no import but Node's
// built-ins (the CLI's hook is loaded at run time from dist/cli.js only when
// the daemon does not serve the hook). Built apart from the CLI, so no chunk
// shared with it is imported; anything else reaching the bundle fails the build.
// CommonJS: Node starts a CommonJS entry 4-7 ms faster than an ES module one.
const HOOK_INPUTS = ['src/hook/main.ts', 'src/hook/client.ts', 'src/watch/daemon-client.ts', 'src/watch/daemon-paths.ts'];
const hook = await build({
  entryPoints: { hook: 'src/hook/main.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external,
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
});
const hookOut = hook.metafile.outputs['dist/hook.cjs'];
const strays = [...Object.keys(hook.metafile.inputs).filter((f) => !HOOK_INPUTS.includes(f)), ...hookOut.imports.filter((i) => !i.path.startsWith('node:')).map((i) => i.path)];
if (strays.length > 0) throw new Error(`dist/hook.cjs must hold only ${HOOK_INPUTS.join(', ')} and import only node: built-ins; it has ${strays.join(', ')}`);
// `ckpt rollback`'s client of the daemon (src/cli/rollback-client.ts): bin/ckpt.js runs it before it
// loads the CLI, so a rollback the daemon serves loads this file alone; the same rule as the hook's.
const ROLLBACK_INPUTS = ['src/cli/rollback-client.ts', 'src/cli/lean-parse.ts', 'src/cli/rollback-wire.ts', 'src/watch/daemon-paths.ts'];
const rb = await build({
  entryPoints: { rollback: 'src/cli/rollback-client.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external,
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
});
const rbOut = rb.metafile.outputs['dist/rollback.cjs'];
const rbStrays = [...Object.keys(rb.metafile.inputs).filter((f) => !ROLLBACK_INPUTS.includes(f)), ...rbOut.imports.filter((i) => !i.path.startsWith('node:')).map((i) => i.path)];
if (rbStrays.length > 0) throw new Error(`dist/rollback.cjs must hold only ${ROLLBACK_INPUTS.join(', ')} and import only node: built-ins; it has ${rbStrays.join(', ')}`);
await buildClient();
if (!process.argv.includes('--no-types')) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
