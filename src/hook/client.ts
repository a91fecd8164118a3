/**
 * The hook's client side, shared by the tiny hook entry (hook/main.ts, the
 * installed command) and `ckpt hook AGENT` (cli/commands/hook.ts): reading
 * the payload from stdin, handing it to a race's hook relay or to the
 * repository's daemon, and the hook's log. Imports only Node's built-ins and
 * the daemon's paths and client (watch/daemon-paths.ts, watch/daemon-client.ts,
 * themselves built-ins only), so a hook the daemon serves loads no CLI,
 * no commander, no zod and no snapshot code (the hook's start-up budget,
 * issue 11; checked by test/hook-entry.test.ts).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { daemonRequest, socketRequest, type DaemonReply } from '../watch/daemon-client.js';
import { daemonWanted, findCommonDir } from '../watch/daemon-paths.js';

/** Largest hook payload read, in bytes (agents/hooks.ts HOOK_INPUT_MAX_BYTES, not loaded before the daemon is asked). */
export const HOOK_STDIN_MAX_BYTES = 256 * 1024 * 1024;

/** How long the hook reads stdin before it goes on with what it has, in ms. */
export const HOOK_STDIN_MS = 5000;

/** A hook's stdin, read: its text, or `truncated` (larger than {@link HOOK_STDIN_MAX_BYTES}; then `text` is empty). */
export interface HookInput {
  text: string;
  truncated: boolean;
}

/**
 * What asking the daemon came to when it did not serve the hook, so the full
 * hook does what it would have done itself without asking again:
 * `skipped` (not asked: not wanted, behind a race's relay, no repository
 * found the cheap way, a payload that is not a JSON object; or asked and
 * turned down for what the direct path reports itself: an agent it has no
 * hooks for, an event it asks for neither a step nor a state), `absent`
 * (asked, no answer: no daemon, a stale socket, connect refused, a timeout,
 * killed mid-request; the full hook then starts one for the next hooks,
 * unless `CKPT_DAEMON_AUTOSTART=0`), `refused` (it answered not ok: another
 * version, another repository, an error; the full hook logs it).
 */
export type DaemonOutcome = { kind: 'skipped' } | { kind: 'absent'; cwd: string } | { kind: 'refused'; cwd: string; reply: DaemonReply };

/** The daemon's answers that mean "the direct path reports this itself" (watch/daemon.ts `hookRequest`): not worth a line of hook.log. */
const NOT_FOR_THE_DAEMON = ['UNKNOWN_AGENT', 'UNSERVED'];

/**
 * The directory a hook payload names, as the agents' parsers read it
 * (agents/*.ts): its absolute `cwd` (Claude Code, Codex, Gemini CLI, OpenCode's
 * plugin, Cursor's tool events), else the first of Cursor's absolute
 * `workspace_roots`; null when it names none. Never throws.
 */
export function payloadDir(payload: Record<string, unknown>): string | null {
  const cwd = payload.cwd;
  if (typeof cwd === 'string' && path.isAbsolute(cwd)) return cwd;
  const roots = payload.workspace_roots;
  const first = Array.isArray(roots) ? roots[0] : undefined;
  return typeof first === 'string' && path.isAbsolute(first) ? first : null;
}

/**
 * Reads stdin until its end, until it holds one whole JSON object (every
 * agent's payload is one: an agent that keeps its end of the pipe open after
 * writing it is not waited for), or until `timeoutMs`; beyond `maxBytes` it
 * keeps draining to the end (the writer never sees EPIPE) and says so. Once
 * done, stdin is let go (paused, its listeners removed, unref'd), so it never
 * keeps the hook's process alive. Never rejects.
 *
 * @param timeoutMs how long to read before going on with what arrived, in ms.
 */
export function readStdin(timeoutMs = HOOK_STDIN_MS, maxBytes = HOOK_STDIN_MAX_BYTES): Promise<HookInput> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    if (stdin.isTTY) return resolve({ text: '', truncated: false });
    const chunks: Buffer[] = [];
    const scan = new ObjectEnd();
    let size = 0;
    let truncated = false;
    const finish = (): void => {
      clearTimeout(timer);
      stdin.off('data', onData);
      stdin.off('end', finish);
      stdin.off('error', finish);
      stdin.on('error', () => undefined); // nothing read any more: an error now is nobody's
      stdin.pause();
      (stdin as { unref?: () => void }).unref?.();
      resolve({ text: truncated ? '' : Buffer.concat(chunks).toString('utf8'), truncated });
    };
    const onData = (c: Buffer): void => {
      if (truncated) return;
      size += c.length;
      if (size > maxBytes) {
        truncated = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
      if (scan.feed(c)) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    stdin.on('data', onData);
    stdin.on('end', finish);
    stdin.on('error', finish);
  });
}

/**
 * Finds where a JSON object that starts a byte stream ends, chunk by chunk
 * (linear: each byte is looked at once): braces counted outside strings.
 * UTF-8 is read as bytes: no byte of a multi-byte character is an ASCII
 * quote, backslash or brace. A stream not starting with `{` (after
 * whitespace or a BOM) never ends here: it is read to its end, as before.
 */
export class ObjectEnd {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private started = false;
  private notObject = false;
  private bom = 0;
  /** Whether the object is complete once `chunk` is added (bytes after it are not looked at). */
  feed(chunk: Uint8Array): boolean {
    if (this.notObject) return false;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (!this.started) {
        // Whitespace, or a UTF-8 BOM (EF BB BF), before the object.
        if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
        if (b === [0xef, 0xbb, 0xbf][this.bom]) {
          this.bom++;
          continue;
        }
        if (b !== 0x7b || (this.bom !== 0 && this.bom !== 3)) {
          this.notObject = true;
          return false;
        }
        this.started = true;
        this.depth = 1;
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === 0x5c) this.escaped = true;
        else if (b === 0x22) this.inString = false;
      } else if (b === 0x22) this.inString = true;
      else if (b === 0x7b || b === 0x5b) this.depth++;
      else if (b === 0x7d || b === 0x5d) {
        if (--this.depth === 0) return true;
      }
    }
    return false;
  }
}

/** The hook's wait budget in ms from `CKPT_HOOK_WAIT` (`5s`, `500ms`), else 20 s (agents/hooks.ts hookWaitMs, which logs a bad value). */
export function hookReplyMs(env: NodeJS.ProcessEnv = process.env): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$/.exec(env.CKPT_HOOK_WAIT ?? '');
  return m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : 20_000;
}

/**
 * Hands an agent's hook (`agent`: `claude`, `codex`, `gemini`, `opencode`,
 * `cursor`) to the daemon of the repository the payload names (its
 * directory, {@link payloadDir}, else this process's cwd) when the daemon is
 * wanted there (the default; not with `CKPT_NO_DAEMON=1`, `CKPT_DAEMON=0` or
 * `ckpt.daemon = false` in git's config: watch/daemon-paths.ts daemonWanted).
 * The daemon parses the payload with that agent's module and records the
 * state and the step as the direct path does (watch/daemon.ts `hookRequest`);
 * this writes the agent's reply on stdout and logs what the daemon could not
 * use of the payload, as the direct path logs it. Never throws.
 *
 * @param connectMs how long to wait for the daemon to accept, in ms.
 * @returns `served` when the daemon recorded the step or the state (and the
 *   reply was written), else why not ({@link DaemonOutcome}).
 */
export async function askDaemon(agent: string, text: string, connectMs = 200): Promise<'served' | DaemonOutcome> {
  if (process.env.CKPT_NO_DAEMON === '1' || process.env.CKPT_HOOK_SOCKET) return { kind: 'skipped' };
  try {
    const here = process.cwd();
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      return { kind: 'skipped' }; // the direct path logs what is wrong with it
    }
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return { kind: 'skipped' };
    const cwd = payloadDir(payload as Record<string, unknown>) ?? here;
    const common = findCommonDir(cwd);
    if (!common || !daemonWanted(common)) return { kind: 'skipped' };
    // ppid and the race's names: the daemon records the agent's state as this process would (agents/state.ts).
    // All three, as the direct path reads them (agents/hooks.ts raceTrailers): the daemon makes the step's trailers from them.
    const env = process.env;
    const race = env.CKPT_RACE_ID && env.CKPT_ATTEMPT ? { CKPT_RACE_ID: env.CKPT_RACE_ID, CKPT_ATTEMPT: env.CKPT_ATTEMPT, ...(env.CKPT_ROUND ? { CKPT_ROUND: env.CKPT_ROUND } : {}) } : {};
    const body = { agent, stdin: text, cwd: here, ppid: process.ppid, race, ...(env.CKPT_HOOK_WAIT !== undefined ? { wait: env.CKPT_HOOK_WAIT } : {}) };
    const reply = await daemonRequest(common, 'hook', body, { connectMs, replyMs: hookReplyMs() });
    if (!reply) return { kind: 'absent', cwd };
    if (!reply.ok) return NOT_FOR_THE_DAEMON.includes(String(reply.code)) ? { kind: 'skipped' } : { kind: 'refused', cwd, reply };
    const log = Array.isArray(reply.log) ? reply.log : [];
    for (const line of log) report(cwd, `${stamp()} ${String(line)}`);
    writeReply(typeof reply.reply === 'string' ? reply.reply : '');
    return 'served';
  } catch {
    return { kind: 'skipped' };
  }
}

/**
 * Hands the hook to the race's hook relay named by `CKPT_HOOK_SOCKET` (a
 * fenced race attempt, whose store is read-only to it: race/hook-relay.ts),
 * which records the step outside the sandbox, and writes its reply for the
 * agent. Never throws.
 *
 * @returns true when the relay answered ok; otherwise the hook goes on by
 *   itself (and this logs why), as it does without a relay.
 */
export async function viaRelay(agent: string, text: string, socket: string): Promise<boolean> {
  let cwd = process.cwd();
  try {
    const p = JSON.parse(text) as unknown;
    if (p && typeof p === 'object' && !Array.isArray(p)) cwd = payloadDir(p as Record<string, unknown>) ?? cwd;
  } catch {
    // the relay reports what is wrong with it
  }
  try {
    const reply = await socketRequest(socket, 'hook', { agent, stdin: text }, { connectMs: 5000, replyMs: hookReplyMs() + 5000 });
    if (reply?.ok) {
      const problems = Array.isArray(reply.problems) ? reply.problems : [];
      for (const p of problems) report(cwd, `${stamp()} ckpt hook ${agent}: ${String(p)}`);
      writeReply(typeof reply.reply === 'string' ? reply.reply : '');
      return true;
    }
    report(cwd, `${stamp()} ckpt hook ${agent}: the race's hook relay (${socket}) ${reply ? `answered ${String(reply.code)} ${String(reply.message ?? '')}` : 'did not answer'}: recording directly`);
    return false;
  } catch {
    return false;
  }
}

/** Writes what the agent reads back from its hook on stdout (nothing for most agents); never throws. */
export function writeReply(text: string): void {
  if (!text) return;
  try {
    process.stdout.write(text);
  } catch {
    // the agent stopped reading: nothing to tell it
  }
}

/** Now, as the hook log's lines start (ISO 8601, UTC). */
export function stamp(): string {
  return new Date().toISOString();
}

/**
 * Appends `line` to `<git-common-dir>/ckpt/hook.log` of the repository
 * containing `cwd` (found without git: a walk up to `.git`), or writes it on
 * stderr when there is none. Never throws.
 */
export function report(cwd: string | null, line: string): void {
  if (cwd) {
    try {
      // Find the common git dir without spawning git: walk up to .git.
      let dir = cwd;
      for (;;) {
        const candidate = path.join(dir, '.git');
        if (existsSync(candidate)) {
          let common = candidate;
          if (statSync(candidate).isFile()) {
            const m = /^gitdir: (.*)$/m.exec(readFileSync(candidate, 'utf8'));
            if (m) {
              const gd = path.resolve(dir, m[1]!.trim());
              try {
                common = path.resolve(gd, readFileSync(path.join(gd, 'commondir'), 'utf8').trim());
              } catch {
                common = gd;
              }
            }
          }
          mkdirSync(path.join(common, 'ckpt'), { recursive: true });
          appendFileSync(path.join(common, 'ckpt', 'hook.log'), line + '\n');
          return;
        }
        const up = path.dirname(dir);
        if (up === dir) break;
        dir = up;
      }
    } catch {
      // fall through to stderr
    }
  }
  try {
    process.stderr.write(line + '\n');
  } catch {
    // nowhere to report
  }
}

/**
 * Serves the hook without the CLI when it can: through the race's hook relay
 * named by `CKPT_HOOK_SOCKET`, else through the repository's daemon
 * ({@link viaRelay}, {@link askDaemon}). Never throws.
 *
 * @returns `served`, or why the daemon did not serve it (the full hook then
 *   records the step itself, and starts a daemon when none answered).
 */
export async function serveWithoutCli(agent: string | undefined, input: HookInput): Promise<'served' | DaemonOutcome> {
  if (!agent || input.truncated) return { kind: 'skipped' };
  const socket = process.env.CKPT_HOOK_SOCKET;
  if (socket && (await viaRelay(agent, input.text, socket))) return 'served';
  return askDaemon(agent, input.text);
}
