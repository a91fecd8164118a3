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
/**
 * Builds `dist/<name>.cjs` from `entry`: one CommonJS file (Node starts a
 * CommonJS entry 4-7 ms faster than an ES module one) that must hold only
 * the sources `inputs` and import only `node:` built-ins; anything else
 * reaching the bundle fails the build.
 */
async function buildTiny(name, entry, inputs) {
  const res = await build({
    entryPoints: { [name]: entry },
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
  const out = res.metafile.outputs[`dist/${name}.cjs`];
  const strays = [...Object.keys(res.metafile.inputs).filter((f) => !inputs.includes(f)), ...out.imports.filter((i) => !i.path.startsWith('node:')).map((i) => i.path)];
  if (strays.length > 0) throw new Error(`dist/${name}.cjs must hold only ${inputs.join(', ')} and import only node: built-ins; it has ${strays.join(', ')}`);
}
// The installed hook command's entry (src/hook/main.ts, bin/ckpt-hook.cjs): one
// file holding everything the daemon's path runs, with no import but Node's
// built-ins (the CLI's hook is loaded at run time from dist/cli.js only when
// the daemon does not serve the hook). Built apart from the CLI, so no chunk
// shared with it is imported.
await buildTiny('hook', 'src/hook/main.ts', ['src/hook/main.ts', 'src/hook/client.ts', 'src/watch/daemon-client.ts', 'src/watch/daemon-paths.ts']);
// `ckpt rollback`'s client of the daemon (src/cli/rollback-client.ts): bin/ckpt.js runs it before it
// loads the CLI, so a rollback the daemon serves loads this file alone; the same rule as the hook's.
await buildTiny('rollback', 'src/cli/rollback-client.ts', ['src/cli/rollback-client.ts', 'src/cli/lean-parse.ts', 'src/cli/rollback-wire.ts', 'src/watch/daemon-paths.ts']);
await buildClient();
if (!process.argv.includes('--no-types')) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
