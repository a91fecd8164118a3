#!/usr/bin/env node
'use strict'; // CommonJS, as bin/ckpt.js (bin/package.json)
const path = require('node:path');
const { pathToFileURL } = require('node:url');
import(pathToFileURL(path.join(__dirname, '..', 'dist', 'cli.js')).href).then(({ main }) => main(['race', ...process.argv.slice(2)], { program: 'race', bin: path.join(__dirname, 'ckpt.js') }));
