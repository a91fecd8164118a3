/**
 * The parse of `ckpt rollback`'s simple forms (see cli/lean-rollback.ts):
 * no import but a type, so the daemon's rollback client (cli/rollback-client.ts,
 * bundled alone as dist/rollback.cjs) can take the same lines as the CLI.
 */
import type { RollbackInput } from './commands/rollback-run.js';

/** A command line the lean path takes: the command's input and the paths after `--`. */
export interface LeanRollback {
  input: RollbackInput;
  paths: string[];
}

/**
 * Reads `argv` (without node and script) when it is `rollback` followed only
 * by the simple forms above; null for anything else (the full path then
 * parses it). Does not validate the values (see {@link validateLean}).
 */
export function parseLeanRollback(argv: readonly string[]): LeanRollback | null {
  if (argv[0] !== 'rollback') return null;
  const dd = argv.indexOf('--');
  const words = dd >= 0 ? argv.slice(1, dd) : argv.slice(1);
  const paths = dd >= 0 ? argv.slice(dd + 1) : [];
  const input: RollbackInput = {};
  const seen = new Set<string>();
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const key = w === '-n' || w === '--dry-run' ? 'dryRun' : w === '--undo' ? 'undo' : w === '--json' ? 'json' : w === '--to' ? 'to' : w !== '' && !w.startsWith('-') ? 'target' : null;
    if (key === null || seen.has(key)) return null;
    seen.add(key);
    if (key === 'to') {
      const v = words[++i];
      if (v === undefined || v === '' || v.startsWith('-')) return null;
      input.to = v;
    } else if (key === 'target') input.target = w;
    else input[key] = true;
  }
  return { input, paths };
}
