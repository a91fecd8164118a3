#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { main } from '../dist/cli.js';
main(['race', ...process.argv.slice(2)], { program: 'race', bin: fileURLToPath(new URL('./ckpt.js', import.meta.url)) });
