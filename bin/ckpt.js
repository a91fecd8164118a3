#!/usr/bin/env node
// `ckpt hook AGENT` (the hook command line of installs made before bin/ckpt-hook.cjs)
// takes the hook entry too: it loads no CLI when the daemon answers.
if (process.argv[2] === 'hook') {
  const { runHookEntry } = await import('../dist/hook.cjs');
  const { fileURLToPath } = await import('node:url');
  process.exitCode = await runHookEntry(process.argv.slice(3), { ckptBin: fileURLToPath(import.meta.url), cliUrl: new URL('../dist/cli.js', import.meta.url).href });
} else {
  // `ckpt rollback` in its simple forms: the daemon runs it when it can (src/cli/rollback-client.ts), and no CLI is loaded.
  // Required, not imported: an ES module importing CommonJS parses it for its exports first (2 ms against 13 ms here, under load).
  const served = process.argv[2] === 'rollback' ? await (await import('node:module')).createRequire(import.meta.url)('../dist/rollback.cjs').runRollbackClient(process.argv.slice(2)) : null;
  if (served && 'exit' in served) process.exitCode = served.exit;
  else if (served) await (await import('../dist/cli.js')).rollbackLost(served.json);
  else (await import('../dist/cli.js')).main(process.argv.slice(2), { program: 'ckpt' });
}
