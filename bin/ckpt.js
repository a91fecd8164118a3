#!/usr/bin/env node
// CommonJS (bin/package.json): Node starts an ES module entry ~10 ms slower (its
// loader; measured under load: an empty ES module 51.7 ms, an empty CommonJS file
// 41.3, `node -e 0` 42.0), and `ckpt rollback` served by the daemon and the hook of
// earlier installs load nothing else of ckpt's when the daemon answers.
'use strict';
const path = require('node:path');
const argv = process.argv.slice(2);
const cliUrl = () => require('node:url').pathToFileURL(path.join(__dirname, '..', 'dist', 'cli.js')).href;
if (argv[0] === 'hook') {
  // `ckpt hook AGENT` (the hook command line of installs made before bin/ckpt-hook.cjs)
  // takes the hook entry too: it loads no CLI when the daemon answers.
  require('../dist/hook.cjs')
    .runHookEntry(argv.slice(1), { ckptBin: __filename, cliUrl: cliUrl() })
    .then((code) => (process.exitCode = code));
} else {
  // `ckpt rollback` in its simple forms: the daemon runs it when it can (src/cli/rollback-client.ts), and no CLI is loaded.
  const served = argv[0] === 'rollback' ? require('../dist/rollback.cjs').runRollbackClient(argv) : Promise.resolve(null);
  served.then(async (res) => {
    if (res && 'exit' in res) process.exitCode = res.exit;
    else if (res) await (await import(cliUrl())).rollbackLost(res.json);
    else {
      // `ckpt race`: V8's young generation kept at its initial size before the CLI loads (as bin/race.js, src/race/heap.ts).
      if (argv[0] === 'race') require('node:v8').setFlagsFromString('--semi-space-growth-factor=1');
      (await import(cliUrl())).main(argv, { program: 'ckpt' });
    }
  });
}
