/**
 * `ckpt hook AGENT`, run by an agent before and after each tool call (a
 * snapshot each) and on its other hook events (the agent's state only: a
 * prompt, a permission request, a reply's end, the session's end;
 * agents/state.ts). It must be fast and must never block or fail the
 * agent: it always exits 0, prints on stdout only what the agent expects from
 * a hook (agents/hooks.ts `reply`: nothing for Claude Code), and appends its
 * own errors to `<git-common-dir>/ckpt/hook.log` (or stderr when there is no repo).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';

/**
 * `ckpt hook AGENT` in `ckpt --help`. main.ts runs the hook before commander
 * is loaded ({@link runHook}), so this registration only documents it.
 */
export function register(parent: Command, _act?: unknown): void {
  parent.command('hook').argument('<agent>').description('(called by agent hooks) snapshot around one tool call; reads the hook JSON on stdin');
}

/**
 * Runs the hook for `args[0]` (the agent). Never throws and always returns 0,
 * whatever arrives on stdin (empty, `null`, an array, garbage, too large):
 * what it could not use is logged.
 */
export async function runHook(args: string[]): Promise<number> {
  const agent = args[0];
  let cwd: string | null = null;
  let reply = '';
  try {
    const { text, truncated } = await readStdin(5000, STDIN_MAX_BYTES);
    if (agent && !truncated && process.env.CKPT_HOOK_SOCKET && (await viaRelay(agent, text, process.env.CKPT_HOOK_SOCKET))) return 0;
    // The tiny path: a Claude Code hook goes to the repository's daemon before
    // anything else is loaded (only node:net and the daemon's paths); the
    // daemon records the agent's state and the step (Claude Code's reply is empty).
    if (agent === 'claude' && !truncated && !process.env.CKPT_HOOK_SOCKET && (await viaDaemon(text))) return 0;
    const [{ recordHookStep, hookWaitMs, HOOK_INPUT_MAX_BYTES, HOOK_AGENT_NAMES }, { loadAgentHooks }, { recordHookState }] = await Promise.all([
      import('../../agents/hooks.js'),
      import('../../agents/hook-registry.js'),
      import('../../agents/state.js'),
    ]);
    const hooks = agent ? await loadAgentHooks(agent) : null;
    reply = hooks?.reply({ event: null, step: null, state: null, cwd: null, sessionId: null, problems: [] }) ?? '';
    if (!hooks) {
      report(null, `${stamp()} ckpt hook: unknown agent ${JSON.stringify(agent)} (known: ${HOOK_AGENT_NAMES.join(', ')})`);
      return 0;
    }
    const parsed = truncated ? { event: null, step: null, state: null, cwd: null, sessionId: null, problems: [`stdin is larger than ${HOOK_INPUT_MAX_BYTES} bytes: not used`] } : hooks.parse(text);
    cwd = parsed.cwd;
    // The agent's state first, for every event that reports one: a small file, no snapshot (agents/state.ts).
    // (Behind a race's relay, CKPT_HOOK_SOCKET, the relay records it: the state dir is not writable here.)
    try {
      if (!process.env.CKPT_HOOK_SOCKET) await recordHookState(hooks.agent, parsed, process.cwd());
    } catch (err) {
      const e = err as { message?: string; code?: string };
      report(cwd ?? process.cwd(), `${stamp()} ckpt hook ${agent} ${String(parsed.event)}: state not recorded: ${e.code ?? 'ERROR'} ${e.message ?? String(err)}`);
    }
    const problems = [...parsed.problems];
    const wait = hookWaitMs();
    if (wait.problem) problems.push(wait.problem);
    for (const p of problems) report(cwd ?? process.cwd(), `${stamp()} ckpt hook ${agent}: ${p}`);
    try {
      const res = await recordHookStep(hooks.agent, parsed, process.cwd(), { waitMs: wait.waitMs });
      if (res?.rebuilt) report(cwd ?? process.cwd(), `${stamp()} ckpt hook ${agent}: warning: ${res.rebuilt}`);
    } catch (err) {
      const e = err as { message?: string; code?: string };
      report(cwd ?? process.cwd(), `${stamp()} ckpt hook ${agent} ${String(parsed.event)} ${String(parsed.step?.tool)} ${String(parsed.step?.toolUseId)}: ${e.code ?? 'ERROR'} ${e.message ?? String(err)}`);
    }
    reply = hooks.reply(parsed);
  } catch (err) {
    report(cwd ?? process.cwd(), `${stamp()} ckpt hook ${String(agent)}: INTERNAL ${String((err as Error)?.stack ?? err)}`);
  }
  writeReply(reply);
  return 0;
}

/** Writes what the agent reads back from its hook on stdout (nothing for most agents); never throws. */
function writeReply(text: string): void {
  if (!text) return;
  try {
    process.stdout.write(text);
  } catch {
    // the agent stopped reading: nothing to tell it
  }
}

/** Largest hook payload read, in bytes (agents/claude.ts HOOK_INPUT_MAX_BYTES, which is not loaded before the daemon is asked). */
const STDIN_MAX_BYTES = 256 * 1024 * 1024;

/**
 * Hands the hook to the repository's daemon when it is wanted (`CKPT_DAEMON=1`,
 * or `ckpt.daemon = true` in the repository's config; `CKPT_NO_DAEMON=1`
 * wins) and answers: only `node:net` and the daemon's paths are loaded. When
 * none answers, one is started for the next hooks (detached) and this hook
 * takes its snapshot itself, as it does whenever the daemon fails, is of
 * another version, or is killed before it replies.
 *
 * @returns true when the daemon recorded the snapshot (or found nothing to record).
 */
async function viaDaemon(stdin: string): Promise<boolean> {
  if (process.env.CKPT_NO_DAEMON === '1') return false;
  try {
    const { daemonWanted, findCommonDir } = await import('../../watch/daemon-paths.js');
    let cwd = process.cwd();
    try {
      const c = (JSON.parse(stdin) as { cwd?: unknown }).cwd;
      if (typeof c === 'string' && path.isAbsolute(c)) cwd = c;
    } catch {
      return false; // the direct path logs what is wrong with it
    }
    const common = findCommonDir(cwd);
    if (!common || !daemonWanted(common)) return false;
    const { daemonRequest } = await import('../../watch/daemon-client.js');
    const waitMs = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$/.exec(process.env.CKPT_HOOK_WAIT ?? '');
    const replyMs = waitMs ? Number(waitMs[1]) * (waitMs[2] === 's' ? 1000 : 1) : 20_000;
    // ppid and the race's names: the daemon records the agent's state as this process would (agents/state.ts).
    // All three, as the direct path reads them (agents/hooks.ts raceTrailers): the daemon makes the step's trailers from them.
    const race = process.env.CKPT_RACE_ID && process.env.CKPT_ATTEMPT ? { CKPT_RACE_ID: process.env.CKPT_RACE_ID, CKPT_ATTEMPT: process.env.CKPT_ATTEMPT, ...(process.env.CKPT_ROUND ? { CKPT_ROUND: process.env.CKPT_ROUND } : {}) } : {};
    const reply = await daemonRequest(common, 'hook', { stdin, cwd, ppid: process.ppid, race }, { connectMs: 200, replyMs });
    if (reply?.ok) {
      // What the daemon could not use of the payload is logged here, as the direct path logs it.
      const problems = Array.isArray(reply.problems) ? reply.problems : [];
      for (const p of problems) report(cwd, `${stamp()} ckpt hook claude: ${String(p)}`);
      return true;
    }
    if (reply === null && process.env.CKPT_DAEMON_AUTOSTART !== '0') (await import('../../watch/daemon-control.js')).startDaemonDetached(cwd);
    else if (reply) report(cwd, `${stamp()} ckpt hook claude: the daemon answered ${String(reply.code)} ${String(reply.message ?? '')}: snapshot taken directly`);
    return false;
  } catch {
    return false;
  }
}

/**
 * Hands the hook to the race's hook relay named by `CKPT_HOOK_SOCKET` (a
 * fenced race attempt, whose store is read-only to it: race/hook-relay.ts),
 * which records the step outside the sandbox, and writes its reply for the
 * agent. Only `node:net` and the daemon's paths are loaded.
 *
 * @returns true when the relay answered ok; otherwise the hook goes on by
 *   itself (and logs why), as it does without a relay.
 */
async function viaRelay(agent: string, stdin: string, socket: string): Promise<boolean> {
  let cwd = process.cwd();
  try {
    const c = (JSON.parse(stdin) as { cwd?: unknown }).cwd;
    if (typeof c === 'string' && path.isAbsolute(c)) cwd = c;
  } catch {
    // the relay reports what is wrong with it
  }
  try {
    const { socketRequest } = await import('../../watch/daemon-client.js');
    const waitMs = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$/.exec(process.env.CKPT_HOOK_WAIT ?? '');
    const replyMs = (waitMs ? Number(waitMs[1]) * (waitMs[2] === 's' ? 1000 : 1) : 20_000) + 5000;
    const reply = await socketRequest(socket, 'hook', { agent, stdin }, { connectMs: 5000, replyMs });
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

function stamp(): string {
  return new Date().toISOString();
}

/** Reads stdin until its end or `timeoutMs`; beyond `maxBytes` it keeps draining (the writer never sees EPIPE) and says so. */
function readStdin(timeoutMs: number, maxBytes: number): Promise<{ text: string; truncated: boolean }> {
  return new Promise((resolve) => {
    if (process.stdin.isTTY) return resolve({ text: '', truncated: false });
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    const finish = (): void => {
      clearTimeout(timer);
      resolve({ text: truncated ? '' : Buffer.concat(chunks).toString('utf8'), truncated });
    };
    const timer = setTimeout(finish, timeoutMs);
    process.stdin.on('data', (c: Buffer) => {
      if (truncated) return;
      size += c.length;
      if (size > maxBytes) {
        truncated = true;
        chunks.length = 0;
      } else chunks.push(c);
    });
    process.stdin.on('end', finish);
    process.stdin.on('error', finish);
  });
}

function report(cwd: string | null, line: string): void {
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

