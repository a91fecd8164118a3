#!/usr/bin/env node
'use strict'; // CommonJS, as bin/ckpt.js (bin/package.json)
// V8's young generation kept at its initial size before the CLI loads (src/race/heap.ts: the race's process waits
// while its agents run, and its memory counts with theirs); the CLI is imported after it.
require('node:v8').setFlagsFromString('--semi-space-growth-factor=1');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
import(pathToFileURL(path.join(__dirname, '..', 'dist', 'cli.js')).href).then(({ main }) => main(['race', ...process.argv.slice(2)], { program: 'race', bin: path.join(__dirname, 'ckpt.js') }));
