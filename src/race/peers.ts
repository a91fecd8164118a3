/**
 * Peers' worktree configs, read where they say what ckpt's race config says,
 * so a repository set up for another parallel-agent tool races as it is:
 *
 * | file (tool) | read | becomes |
 * |---|---|---|
 * | `.worktreeinclude` (Claude Code, Codex, Conductor, …) | gitignore patterns of ignored files to carry into each worktree | copied like `race.copy` |
 * | `conductor.json` (Conductor) | `scripts.setup`, `scripts.archive` (`scripts.run`: a dev server's Run button, not used) | `race.setup`, `race.teardown`; env `CONDUCTOR_ROOT_PATH`, `CONDUCTOR_WORKSPACE_PATH`, `CONDUCTOR_WORKSPACE_NAME`, `CONDUCTOR_PORT` |
 * | `.superset/config.json` (Superset) | `setup`, `teardown`: arrays of commands run in turn (`run`: not used) | `race.setup`, `race.teardown` (stopping at the first failing command); env `SUPERSET_ROOT_PATH`, `SUPERSET_WORKSPACE_PATH`, `SUPERSET_WORKSPACE_NAME` |
 * | `.cursor/worktrees.json` (Cursor) | `setup-worktree-unix`, else `setup-worktree`: an array of commands, or a script's path relative to the file | `race.setup`; env `ROOT_WORKTREE_PATH` |
 *
 * ckpt's own settings win (`--setup`, `race.setup`, …); among peers the
 * first in the table's order that sets a thing gives it, and the others are
 * named as not used. A file that is not JSON, or not the shape its tool
 * documents, is `PEER_CONFIG_INVALID` naming the file, never skipped.
 * `race.peerConfigs: false` reads none of them.
 */
import { accessSync, constants as fsc, existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import * as z from '../core/zod.js';
import { CkptError } from '../core/errors.js';

/** One setting taken from a peer's file: the command and where it came from (`conductor.json scripts.setup`). */
export interface PeerValue {
  command: string;
  from: string;
}

/** What the peers' files found in a checkout give a race. */
export interface PeerConfigs {
  /** The files read (repository-relative), in the order read. */
  files: string[];
  setup: PeerValue | null;
  teardown: PeerValue | null;
  /** Variables the tools' scripts expect, and the file each came from: `race.env` templates, or `literal` values (paths, never expanded). */
  env: Record<string, { value: string; from: string; literal: boolean }>;
  /** `.worktreeinclude`'s patterns (copied like `race.copy`). */
  include: string[];
  /** What was read but not used, and why. */
  unused: string[];
}

const conductorSchema = z.object({
  scripts: z.object({ setup: z.string().optional(), run: z.string().optional(), archive: z.string().optional() }).optional(),
  runScriptMode: z.enum(['concurrent', 'nonconcurrent']).optional(),
});
const commands = z.array(z.string());
const supersetSchema = z.object({ setup: commands.optional(), teardown: commands.optional(), run: commands.optional() });
const cursorSetup = z.union([z.array(z.string()), z.string()]);
const cursorSchema = z.object({ 'setup-worktree-unix': cursorSetup.optional(), 'setup-worktree-windows': cursorSetup.optional(), 'setup-worktree': cursorSetup.optional() });

/** Reads `file` (repository-relative) as JSON of `schema`, or null when absent. */
function readJson<T>(worktree: string, file: string, schema: z.ZodType<T>, doc: string): T | null {
  const abs = path.join(worktree, file);
  if (!existsSync(abs)) return null;
  let raw: unknown;
  try {
    // A byte-order mark (some Windows editors write one) is not part of the JSON.
    raw = JSON.parse(readFileSync(abs, 'utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new CkptError('PEER_CONFIG_INVALID', `${file} is not valid JSON: ${(err as Error).message}`, { hint: `Fix it (its format: ${doc}), or set race.peerConfigs: false in .ckpt/config.json to ignore peers' files. Nothing was run.`, data: { file } });
  }
  const res = schema.safeParse(raw);
  if (!res.success) {
    const problems = res.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
    throw new CkptError('PEER_CONFIG_INVALID', `${file} is not in the shape its tool reads:\n  ${problems.join('\n  ')}`, { hint: `Its format: ${doc}. Or set race.peerConfigs: false in .ckpt/config.json to ignore peers' files. Nothing was run.`, data: { file, problems } });
  }
  return res.data as T;
}

/** Commands run in turn in one shell, stopping at the first that fails (each may span lines or end in a comment). */
export function inTurn(cmds: string[]): string {
  const list = cmds.filter((c) => c.trim() !== '');
  if (list.length === 1) return list[0]!;
  return list.map((c) => `{\n${c}\n} || exit $?`).join('\n');
}

/** What a checkout without peers' files (or `race.peerConfigs: false`) gives. */
export function noPeerConfigs(): PeerConfigs {
  return { files: [], setup: null, teardown: null, env: {}, include: [], unused: [] };
}

/** A single-quoted shell word. */
const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Reads the peers' files of the checkout `worktree` (see the module's table).
 *
 * @throws CkptError `PEER_CONFIG_INVALID` naming the file: not JSON, a field
 *   of the wrong type, a Cursor script path outside the checkout or missing.
 */
export function readPeerConfigs(worktree: string): PeerConfigs {
  const out: PeerConfigs = noPeerConfigs();
  const take = (what: 'setup' | 'teardown', command: string, from: string): void => {
    if (out[what]) out.unused.push(`${from}: not used, ${out[what]!.from} gives the ${what}`);
    else out[what] = { command, from };
  };
  const env = (vars: Record<string, string>, from: string): void => {
    for (const [k, value] of Object.entries(vars)) if (!out.env[k]) out.env[k] = { value, from, literal: value === worktree };
  };

  const wti = path.join(worktree, '.worktreeinclude');
  if (existsSync(wti)) {
    out.files.push('.worktreeinclude');
    out.include = readFileSync(wti, 'utf8')
      .split(/\r?\n/)
      .filter((l) => l.trim() !== '' && !l.startsWith('#'));
  }

  const conductor = readJson(worktree, 'conductor.json', conductorSchema, '{"scripts": {"setup": "…", "run": "…", "archive": "…"}} (docs.conductor.build)');
  if (conductor) {
    out.files.push('conductor.json');
    const s = conductor.scripts ?? {};
    if (s.setup?.trim()) take('setup', s.setup, 'conductor.json scripts.setup');
    if (s.archive?.trim()) take('teardown', s.archive, 'conductor.json scripts.archive');
    if (s.run?.trim()) out.unused.push('conductor.json scripts.run: not used (a dev server started by a button; a race runs --check instead)');
    env({ CONDUCTOR_ROOT_PATH: worktree, CONDUCTOR_WORKSPACE_PATH: '{dir}', CONDUCTOR_WORKSPACE_NAME: '{attempt}', CONDUCTOR_PORT: '{port}' }, 'conductor.json');
  }

  const superset = readJson(worktree, '.superset/config.json', supersetSchema, '{"setup": ["cmd", …], "teardown": ["cmd", …]} (docs.superset.sh)');
  if (superset) {
    out.files.push('.superset/config.json');
    if (superset.setup && inTurn(superset.setup)) take('setup', inTurn(superset.setup), '.superset/config.json setup');
    if (superset.teardown && inTurn(superset.teardown)) take('teardown', inTurn(superset.teardown), '.superset/config.json teardown');
    if (superset.run?.length) out.unused.push('.superset/config.json run: not used (a dev server started by a button; a race runs --check instead)');
    env({ SUPERSET_ROOT_PATH: worktree, SUPERSET_WORKSPACE_PATH: '{dir}', SUPERSET_WORKSPACE_NAME: '{attempt}' }, '.superset/config.json');
  }

  const cursorFile = '.cursor/worktrees.json';
  const cursor = readJson(worktree, cursorFile, cursorSchema, '{"setup-worktree-unix": ["cmd", …] | "script.sh", "setup-worktree": …} (cursor.com/docs/configuration/worktrees)');
  if (cursor) {
    out.files.push(cursorFile);
    const key = cursor['setup-worktree-unix'] !== undefined ? 'setup-worktree-unix' : 'setup-worktree';
    const v = cursor[key];
    if (typeof v === 'string') {
      // A script's path, relative to .cursor/worktrees.json.
      const rel = path.posix.normalize(path.posix.join('.cursor', v));
      const abs = path.join(worktree, rel);
      if (path.isAbsolute(v) || rel.startsWith('../') || rel === '..') {
        throw new CkptError('PEER_CONFIG_INVALID', `${cursorFile} ${key}: the script ${JSON.stringify(v)} is outside the checkout`, { hint: 'Give a path relative to .cursor/worktrees.json inside the repository.', data: { file: cursorFile } });
      }
      if (!existsSync(abs) || !statSync(abs).isFile()) {
        throw new CkptError('PEER_CONFIG_INVALID', `${cursorFile} ${key}: the script ${rel} does not exist`, { hint: 'Fix the path (relative to .cursor/worktrees.json) or add the script.', data: { file: cursorFile } });
      }
      take('setup', `${isExecutable(abs) ? '' : 'sh '}${sq('./' + rel)}`, `${cursorFile} ${key}`);
    } else if (v && inTurn(v)) {
      take('setup', inTurn(v), `${cursorFile} ${key}`);
    }
    env({ ROOT_WORKTREE_PATH: worktree }, cursorFile);
  }
  return out;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, fsc.X_OK);
    return true;
  } catch {
    return false;
  }
}
