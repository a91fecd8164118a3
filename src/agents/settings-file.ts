/**
 * An agent's JSON settings file as ckpt edits it for `hooks install` /
 * `hooks uninstall`: read and shape-checked (nothing is written when it is
 * not what the agent reads), written atomically, and given back byte for
 * byte on uninstall when nobody changed it since the install.
 *
 * The install record (`<common>/ckpt/hooks/<agent>-<hash>.json` for a
 * project file, `$XDG_STATE_HOME/ckpt/hooks/…` for a global one) holds the
 * file's bytes before the install (or that it did not exist, and which
 * directories the install made) and the sha256 of what the install wrote.
 * Uninstall puts the old bytes back when the file still hashes to that; when
 * the file was edited since, it removes only ckpt's entries and keeps the rest.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CkptError } from '../core/errors.js';
import { git } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { realEnv } from '../git/shadow.js';

/** What an install record holds (see the module comment). */
interface InstallRecord {
  file: string;
  /** The file's bytes before the install (base64), or null when it did not exist. */
  before: string | null;
  /** False when those bytes already held ckpt's entries: uninstall then only removes the entries. */
  exact: boolean;
  /** sha256 (hex) of the bytes the install wrote. */
  after: string;
  /** Directories the install created, deepest first (removed on uninstall when empty). */
  dirs: string[];
}

/** A settings file read: its bytes (null when absent) and its JSON document (`{}` when absent). */
export interface SettingsRead {
  bytes: Buffer | null;
  doc: Record<string, unknown>;
}

/** `value` is a plain JSON object. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `a null`, `an array`, `an object`, `a string`: for messages. */
export function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * Reads a JSON settings file and checks its shape with `problemOf`.
 *
 * @throws CkptError `AGENT_SETTINGS_INVALID` naming the file and what is wrong
 *   (the JSON error with its line and column, or what `problemOf` says); `FS_FAILED`.
 */
export function readSettingsFile(file: string, problemOf: (doc: unknown) => string | null): SettingsRead {
  const bytes = readBytes(file);
  if (bytes === null) return { bytes: null, doc: {} };
  const text = bytes.toString('utf8');
  const hint = 'Fix or remove the file, then run the command again; nothing was changed.';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const pos = /position (\d+)/.exec(msg);
    let where = '';
    if (pos) {
      const before = text.slice(0, Number(pos[1]));
      where = ` (line ${before.split('\n').length}, column ${before.length - before.lastIndexOf('\n')})`;
    }
    throw new CkptError('AGENT_SETTINGS_INVALID', `${file} is not valid JSON${where}: ${msg}`, { cause: err, hint: `${hint} ckpt edits plain JSON only (no comments).`, data: { file, error: msg } });
  }
  const problem = problemOf(parsed);
  if (problem) throw new CkptError('AGENT_SETTINGS_INVALID', `${file}: ${problem}`, { hint, data: { file, error: problem } });
  return { bytes, doc: parsed as Record<string, unknown> };
}

/** Where install records live: under the repository's ckpt dir, or the user's state dir for a global file. */
export function recordsDir(where: { repo: Repo } | { home: string | undefined }): string {
  if ('repo' in where) return path.join(where.repo.commonDir, 'ckpt', 'hooks');
  const state = where.home ? path.join(where.home, '.local', 'state') : process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  return path.join(state, 'ckpt', 'hooks');
}

function recordPath(dir: string, agent: string, file: string): string {
  return path.join(dir, `${agent}-${createHash('sha256').update(path.resolve(file)).digest('hex').slice(0, 16)}.json`);
}

function readRecord(p: string): InstallRecord | null {
  try {
    const r = JSON.parse(readFileSync(p, 'utf8')) as InstallRecord;
    if (typeof r.after === 'string' && (r.before === null || typeof r.before === 'string') && typeof r.exact === 'boolean' && Array.isArray(r.dirs)) return r;
  } catch {
    // none, or unreadable: treated as none (uninstall then removes ckpt's entries only)
  }
  return null;
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/**
 * Writes `doc` (2-space JSON and a newline) to `file` for an install, after
 * recording what to give back: the bytes before (`read.bytes`) unless they
 * already hold ckpt's entries (`hadOurs`: then an uninstall can only remove
 * the entries), the directories it creates, and the hash of what it wrote.
 *
 * @throws CkptError `FS_FAILED`.
 */
export function writeInstall(agent: string, file: string, read: SettingsRead, doc: Record<string, unknown>, records: string, hadOurs: boolean): void {
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  const rp = recordPath(records, agent, file);
  const old = readRecord(rp);
  const after = sha256(text);
  let record: InstallRecord;
  if (old && read.bytes && sha256(read.bytes) === old.after) {
    // Re-installing over our own untouched install (another ckpt path): the first install's "before" stays.
    record = { ...old, after };
  } else {
    const dirs: string[] = [];
    if (!read.bytes) for (let d = path.dirname(file); !existsSync(d); d = path.dirname(d)) dirs.push(d);
    record = { file: path.resolve(file), before: read.bytes ? read.bytes.toString('base64') : null, exact: !hadOurs, after, dirs };
  }
  writeAtomic(rp, JSON.stringify(record));
  writeAtomic(file, text);
}

/**
 * Uninstall's write: the bytes before the install when the file is exactly
 * what the install wrote (the file removed, and the directories the install
 * made, when there was none), else `strip(doc)`: the document without
 * ckpt's entries, written only when it changed. The record is removed.
 *
 * @param strip removes ckpt's entries from the document, returning whether it removed any.
 * @returns whether the file changed.
 * @throws CkptError `AGENT_SETTINGS_INVALID` (from `read`), `FS_FAILED`.
 */
export function writeUninstall(agent: string, file: string, records: string, read: () => SettingsRead, strip: (doc: Record<string, unknown>) => boolean): boolean {
  const rp = recordPath(records, agent, file);
  const record = readRecord(rp);
  const bytes = readBytes(file);
  let changed = false;
  if (bytes === null) {
    // nothing to remove
  } else if (record && record.exact && sha256(bytes) === record.after) {
    if (record.before === null) {
      try {
        rmSync(file);
        for (const d of record.dirs) {
          try {
            rmdirSync(d);
          } catch {
            break; // not empty (something else lives there now): kept
          }
        }
      } catch (err) {
        throw fsFailed(file, err);
      }
    } else writeAtomic(file, Buffer.from(record.before, 'base64'));
    changed = true;
  } else {
    const r = read();
    if (strip(r.doc)) {
      writeAtomic(file, `${JSON.stringify(r.doc, null, 2)}\n`);
      changed = true;
    }
  }
  rmSync(rp, { force: true });
  return changed;
}

/** The lines `hooks install` adds to `info/exclude` for `rule`: a marker naming the agent, then the rule. */
function excludeBlock(agent: string, rule: string): string {
  return `# added by \`ckpt hooks install ${agent}\` (removed by uninstall): the agent's settings with ckpt's hooks, kept out of snapshots\n${rule}\n`;
}

/**
 * Keeps `relPath` (relative to the worktree) out of snapshots: unless git
 * already ignores it, a rule for it is added to `info/exclude`, marked as
 * ckpt's for `agent`. Done before the settings are written, so no snapshot
 * taken meanwhile holds the file.
 *
 * @returns true when the rule was added.
 * @throws CkptError `FS_FAILED`, `GIT_FAILED`.
 */
export async function excludeFromSnapshots(repo: Repo, agent: string, relPath: string): Promise<boolean> {
  const file = path.join(repo.commonDir, 'info', 'exclude');
  const text = readText(file);
  const block = excludeBlock(agent, `/${relPath}`);
  if (text.includes(block)) return false;
  const ignored = await git(['check-ignore', '-q', '--no-index', '--', relPath], { cwd: repo.worktree, env: realEnv(repo), okCodes: [0, 1] });
  if (ignored.exitCode === 0) return false;
  writeAtomic(file, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${block}`);
  return true;
}

/** Removes the block {@link excludeFromSnapshots} added, if it is there; the rest of the file is kept byte for byte. @returns whether it was there. */
export function removeExclude(repo: Repo, agent: string, relPath: string): boolean {
  const file = path.join(repo.commonDir, 'info', 'exclude');
  const text = readText(file);
  const block = excludeBlock(agent, `/${relPath}`);
  const at = text.indexOf(block);
  if (at < 0) return false;
  writeAtomic(file, text.slice(0, at) + text.slice(at + block.length));
  return true;
}

/**
 * Refuses a project settings file that git tracks: it is the project's, not
 * the user's own, and a hook command naming this machine's paths must not be
 * committed with it.
 *
 * @throws CkptError `AGENT_SETTINGS_TRACKED` naming the file, with `--global` as the way out.
 */
export async function refuseTracked(repo: Repo, agent: string, relPath: string): Promise<void> {
  const r = await git(['ls-files', '--error-unmatch', '--', relPath], { cwd: repo.worktree, env: realEnv(repo), okCodes: [0, 1] });
  if (r.exitCode === 0) {
    throw new CkptError('AGENT_SETTINGS_TRACKED', `${relPath} is tracked by git: it is the project's settings, not yours, so ckpt does not put its hooks there`, {
      hint: `Run \`ckpt hooks install ${agent} --global\` to use your own settings instead; nothing was changed.`,
      data: { file: path.join(repo.worktree, relPath) },
    });
  }
}

function readBytes(file: string): Buffer | null {
  try {
    return readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fsFailed(file, err);
  }
}

function readText(file: string): string {
  return readBytes(file)?.toString('utf8') ?? '';
}

/** Writes through a temp file and a rename, so a reader never sees half a file. @throws CkptError `FS_FAILED`. */
export function writeAtomic(file: string, data: string | Buffer): void {
  const tmp = `${file}.ckpt-${process.pid}.tmp`;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw fsFailed(file, err);
  }
}

function fsFailed(file: string, err: unknown): CkptError {
  return new CkptError('FS_FAILED', `could not update ${file}: ${(err as Error).message}`, { cause: err, hint: 'Check permissions and free space.', data: { file, errno: (err as NodeJS.ErrnoException).code ?? null } });
}
