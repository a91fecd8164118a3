/**
 * `ckpt hook AGENT`, run by an agent before and after each tool call (a
 * snapshot each) and on its other hook events (the agent's state only: a
 * prompt, a permission request, a reply's end, the session's end;
 * agents/state.ts). It must be fast and must never block or fail the
 * agent: it always exits 0, prints on stdout only what the agent expects from
 * a hook (agents/hooks.ts `reply`: nothing for Claude Code), and appends its
 * own errors to `<git-common-dir>/ckpt/hook.log` (or stderr when there is no repo).
 *
 * The installed hook command is the tiny entry (hook/main.ts, bin/ckpt-hook.cjs),
 * which asks the daemon itself and comes here ({@link runHookAfterClient},
 * through cli/main.ts `hookFallback`) only when the daemon did not serve the hook.
 */
import type { Command } from 'commander';
import { readStdin, report, serveWithoutCli, stamp, writeReply, type DaemonOutcome, type HookInput } from '../../hook/client.js';

/**
 * `ckpt hook AGENT` in `ckpt --help`. main.ts runs the hook before commander
 * is loaded ({@link runHook}), so this registration only documents it.
 */
export function register(parent: Command, _act?: unknown): void {
  parent.command('hook').argument('<agent>').description('(called by agent hooks) snapshot around one tool call; reads the hook JSON on stdin');
}

/**
 * Runs the hook for `args[0]` (the agent), reading its payload from stdin.
 * Never throws and always returns 0, whatever arrives on stdin (empty,
 * `null`, an array, garbage, too large): what it could not use is logged.
 */
export async function runHook(args: string[]): Promise<number> {
  const input = await readStdin();
  const outcome = await serveWithoutCli(args[0], input);
  return outcome === 'served' ? 0 : runHookAfterClient(args[0], input, { daemon: outcome });
}

/**
 * The hook once its payload is read and neither the race's hook relay nor the
 * daemon served it (hook/client.ts serveWithoutCli, run by hook/main.ts, the
 * installed entry, or by {@link runHook}; `tried.daemon` says why): the agent's state and
 * the step recorded directly. A daemon that did not answer is started for
 * the next hooks (detached, `node ckptBin daemon run`) unless
 * `CKPT_DAEMON_AUTOSTART=0`. Never throws; always returns 0.
 *
 * @param ckptBin the ckpt bin a daemon is started with (default: this process's script).
 */
export async function runHookAfterClient(agent: string | undefined, input: HookInput, tried: { daemon: DaemonOutcome }, ckptBin?: string): Promise<number> {
  let cwd: string | null = null;
  let reply = '';
  const { text, truncated } = input;
  try {
    const outcome = tried.daemon;
    const [{ recordHookStep, hookWaitMs, hookRaceTrailers, HOOK_INPUT_MAX_BYTES, HOOK_AGENT_NAMES }, { loadAgentHooks }, { recordHookState }] = await Promise.all([
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
    // A known agent only: a daemon is never started for a hook no daemon could serve.
    if (outcome.kind === 'absent' && process.env.CKPT_DAEMON_AUTOSTART !== '0') (await import('../../watch/daemon-control.js')).startDaemonDetached(outcome.cwd, ckptBin);
    else if (outcome.kind === 'refused') report(outcome.cwd, `${stamp()} ckpt hook ${String(agent)}: the daemon answered ${String(outcome.reply.code)} ${String(outcome.reply.message ?? '')}: snapshot taken directly`);
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
    const race = parsed.step ? hookRaceTrailers(process.env).problem : null;
    if (race) problems.push(race);
    for (const p of problems) report(cwd ?? process.cwd(), `${stamp()} ckpt hook ${agent}: ${p}`);
    try {
      // A daemon that did not answer may have taken the step before it went (killed between its ref and its reply).
      const res = await recordHookStep(hooks.agent, parsed, process.cwd(), { waitMs: wait.waitMs, unlessAtTip: outcome.kind === 'absent' });
      if (res === null && parsed.step) report(cwd ?? process.cwd(), `${stamp()} ckpt hook ${agent} ${String(parsed.event)} ${String(parsed.step.toolUseId)}: the daemon recorded the step and did not answer: not recorded again`);
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
