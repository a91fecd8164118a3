#!/usr/bin/env node
// `ckpt hook AGENT` (the hook command line of installs made before bin/ckpt-hook.js)
// takes the tiny hook entry too: it loads no CLI when the daemon answers.
if (process.argv[2] === 'hook') {
  const { runHookEntry } = await import('../dist/hook.js');
  process.exitCode = await runHookEntry(process.argv.slice(3));
} else {
  const { main } = await import('../dist/cli.js');
  main(process.argv.slice(2), { program: 'ckpt' });
}
