#!/usr/bin/env node
// `ckpt hook AGENT` (the hook command line of installs made before bin/ckpt-hook.cjs)
// takes the hook entry too: it loads no CLI when the daemon answers.
if (process.argv[2] === 'hook') {
  const { runHookEntry } = await import('../dist/hook.cjs');
  const { fileURLToPath } = await import('node:url');
  process.exitCode = await runHookEntry(process.argv.slice(3), { ckptBin: fileURLToPath(import.meta.url), cliUrl: new URL('../dist/cli.js', import.meta.url).href });
} else {
  const { main } = await import('../dist/cli.js');
  main(process.argv.slice(2), { program: 'ckpt' });
}
