/**
 * The installed hook command's entry (bin/ckpt-hook.cjs → dist/hook.cjs, bundled
 * by scripts/build.mjs into one CommonJS file with nothing but Node's
 * built-ins: an ES module entry alone costs Node 4-7 ms more to start): what
 * an agent runs before and after every tool call, twice per call, so its
 * start-up is the hook's cost (issue 11: the whole process within bare
 * `node -e 0` + 20 ms).
 *
 * It reads the payload from stdin and, when the race's hook relay
 * (`CKPT_HOOK_SOCKET`) or the repository's daemon of this version serves it,
 * writes the agent's reply and ends: no CLI, no commander, no zod, no
 * snapshot code is loaded (hook/client.ts). The daemon serves the hooks of
 * every agent ckpt has hooks for: Claude Code, Codex, Gemini CLI, OpenCode
 * and Cursor (`AGENT` names it; the daemon parses the payload with that
 * agent's module, watch/daemon.ts `hookRequest`). In every other case (no
 * daemon, the daemon not wanted by env or config, another version, connect
 * refused, a stale socket, a timeout, an error answer, a daemon killed
 * mid-request, a payload of another repository, an unknown agent, a payload
 * that is not a JSON object, an event asking for neither a step nor a state)
 * it loads the CLI's hook (cli/commands/hook.ts, through dist/cli.js
 * `hookFallback`) in process, which does exactly what `ckpt hook AGENT` does
 * without asking the daemon again and reports as it always did: a hook never
 * fails or waits long because of the daemon. It always exits 0.
 */
import { readStdin, report, serveWithoutCli, stamp, type DaemonOutcome, type HookInput } from './client.js';

/** dist/cli.js's hook, as this entry calls it (cli/main.ts `hookFallback`; its type is not imported: this entry knows no CLI module). */
type HookFallback = (agent: string | undefined, input: HookInput, tried: { daemon: DaemonOutcome }, ckptBin?: string) => Promise<number>;

/** Where the rest of ckpt is, as the bin that runs the entry knows it. */
export interface HookEntryPaths {
  /** The ckpt bin (bin/ckpt.js) a daemon is started with when none answered. */
  ckptBin: string;
  /** The URL of the CLI's bundle (dist/cli.js), loaded only when the daemon does not serve the hook. */
  cliUrl: string;
}

/**
 * Runs the hook for `args[0]` (the agent: `claude`, `codex`, …). Never
 * throws; returns the exit code, always 0.
 */
export async function runHookEntry(args: string[], where: HookEntryPaths): Promise<number> {
  const agent = args[0];
  const input = await readStdin();
  try {
    const outcome = await serveWithoutCli(agent, input);
    if (outcome === 'served') return 0;
    // Not served: the full hook, from the CLI's bundle (a specifier known at
    // run time only, so the bundler leaves it out of this one).
    const cli = (await import(where.cliUrl)) as { hookFallback: HookFallback };
    return await cli.hookFallback(agent, input, { daemon: outcome }, where.ckptBin);
  } catch (err) {
    report(process.cwd(), `${stamp()} ckpt hook ${String(agent)}: INTERNAL ${String((err as Error)?.stack ?? err)}`);
    return 0;
  }
}
