#!/usr/bin/env node
// The installed hook command (`ckpt hooks install AGENT`): `ckpt-hook.js AGENT`,
// the payload on stdin. dist/hook.js loads only Node's built-ins when the daemon answers.
import { runHookEntry } from '../dist/hook.js';
process.exitCode = await runHookEntry(process.argv.slice(2));
