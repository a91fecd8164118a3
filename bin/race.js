#!/usr/bin/env node
import { main } from '../dist/cli.js';
main(['race', ...process.argv.slice(2)], { program: 'race' });
