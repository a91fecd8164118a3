#!/usr/bin/env node
// The installed hook command (`ckpt hooks install AGENT`): `ckpt-hook.cjs AGENT`, the
// payload on stdin. CommonJS, as dist/hook.cjs is: Node starts an ES module entry
// 4-7 ms slower, and this runs twice per tool call; it loads only Node's built-ins
// when the daemon answers.
'use strict';
const path = require('node:path');
const { pathToFileURL } = require('node:url');
require('../dist/hook.cjs')
  .runHookEntry(process.argv.slice(2), { ckptBin: path.join(__dirname, 'ckpt.js'), cliUrl: pathToFileURL(path.join(__dirname, '..', 'dist', 'cli.js')).href })
  .then((code) => (process.exitCode = code));
