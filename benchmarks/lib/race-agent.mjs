#!/usr/bin/env node
// The race-memory benchmark's scripted agent (a Claude Code client as far as
// ckpt knows): it reads the hook commands from the --settings file ckpt
// passes, and for each of TOOL_CALLS tool calls runs the PreToolUse hook with
// Claude Code's payload on stdin, changes FILES_PER_CALL tracked files of its
// worktree (its own slice, by its attempt's index), then runs the PostToolUse
// hook. It exits 1 if a hook failed.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const TOOL_CALLS = 5;
const FILES_PER_CALL = 10;
const args = process.argv.slice(2);
const settings = JSON.parse(fs.readFileSync(args[args.indexOf('--settings') + 1], 'utf8'));
const command = (event) => settings.hooks[event][0].hooks[0].command;
const files = execFileSync('git', ['ls-files', '-z'], { encoding: 'utf8', maxBuffer: 1 << 28 }).split('\0').filter((f) => f && !f.startsWith('.'));
const index = Number(process.env.CKPT_ATTEMPT_INDEX ?? process.env.CKPT_INDEX ?? 0) || [...String(process.env.CKPT_ATTEMPT ?? '')].reduce((a, c) => a + c.charCodeAt(0), 0);
let failed = 0;
for (let k = 0; k < TOOL_CALLS; k++) {
  const mine = Array.from({ length: FILES_PER_CALL }, (_, i) => files[(index * 7919 + (k * FILES_PER_CALL + i) * 104729) % files.length]);
  const payload = { session_id: `bench-${process.env.CKPT_ATTEMPT}`, cwd: process.cwd(), tool_name: 'Edit', tool_input: { file_path: path.resolve(mine[0]) }, tool_use_id: `toolu_${process.env.CKPT_ATTEMPT}_${k}` };
  for (const event of ['PreToolUse', 'PostToolUse']) {
    if (event === 'PostToolUse') for (const f of mine) fs.appendFileSync(f, `// edited by ${process.env.CKPT_ATTEMPT} in call ${k}\n`);
    const r = spawnSync('sh', ['-c', command(event)], { input: JSON.stringify({ ...payload, hook_event_name: event }), encoding: 'utf8' });
    if (r.status !== 0) {
      failed++;
      console.log(`hook ${event} ${payload.tool_use_id}: exit ${r.status} ${r.stderr}`);
    }
  }
}
console.log(`agent: ${TOOL_CALLS} tool calls, ${failed} hook(s) failed`);
process.exit(failed ? 1 : 0);
