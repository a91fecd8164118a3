/**
 * The command-line program: parses arguments with commander, validates them
 * with each command's zod schema (cli/command.ts), runs one library call per
 * command (each in src/cli/commands/, which owns its options), renders the
 * result through one Output, sets the exit code. `ckpt hook claude` skips all
 * of that: it starts fast; so does `ckpt rollback` in its simple forms
 * (cli/lean-rollback.ts: no commander, no zod, the same validation and run).
 */
import type { Command as CommandType } from 'commander';
import type { Act } from './command.js';
import type { Ctx } from './context.js';
import type { ColorMode, Output as OutputType } from './output.js';
import type { DaemonOutcome, HookInput } from '../hook/client.js';

/**
 * Reports a rollback the daemon ran for the tiny client (cli/rollback-client.ts)
 * whose answer never came: the daemon ended after it was told to go ahead.
 * `DAEMON_FAILED` (exit 4), printed as every error is; the rollback is
 * finished or undone by the next `ckpt rollback`, as after a killed one.
 */
export async function rollbackLost(json: boolean): Promise<void> {
  const [{ Output, settleOutput }, { CkptError }] = await Promise.all([import('./output.js'), import('../core/errors.js')]);
  const out = new Output({ json, color: 'auto' });
  process.exitCode = out.fail(
    new CkptError('DAEMON_FAILED', 'the ckpt daemon ended while it ran the rollback', {
      hint: 'Nothing is lost: the next `ckpt rollback` finishes it first, `ckpt rollback --undo` puts back the state before it; `ckpt log` shows the steps.',
    }),
  );
  await settleOutput(out);
}

/**
 * Runs the CLI with `argv` (without node and script) and sets `process.exitCode`.
 */
export async function main(argv: string[], meta: { program: string; bin?: string }): Promise<void> {
  const bin = meta.bin ?? process.argv[1] ?? 'ckpt';
  // Fast path: agent hooks run twice per tool call; skip commander entirely.
  if (argv[0] === 'hook') {
    const { runHook } = await import('./commands/hook.js');
    process.exitCode = await runHook(argv.slice(1));
    return;
  }
  // Lean path: `ckpt rollback` in its simple forms, without commander and zod (cli/lean-rollback.ts).
  if (meta.program === 'ckpt' && argv[0] === 'rollback') {
    const [{ parseLeanRollback, runLean }, { Output, settleOutput }] = await Promise.all([import('./lean-rollback.js'), import('./output.js')]);
    const lean = parseLeanRollback(argv);
    if (lean) {
      const out = new Output({ json: !!lean.input.json, color: 'auto' });
      process.exitCode = await runLean(lean, { cwd: process.cwd(), out, program: meta.program, bin });
      await settleOutput(out);
      return;
    }
  }
  // The daemon's own process (watch/daemon-control.ts starts it so): no commander, zod or output module while it runs.
  if (argv[0] === 'daemon' && argv[1] === 'run') {
    const { fastDaemonArgs, runDaemonFast } = await import('./daemon-run.js');
    const opts = fastDaemonArgs(argv.slice(2));
    if (opts) {
      process.exitCode = await runDaemonFast(process.cwd(), opts);
      return;
    }
  }
  const [{ Command, CommanderError, Help, InvalidArgumentError }, { EXIT, Output, settleOutput }, { parseInput }, { registerCommands }, { CkptError }, { quote }, { statSync }, path] = await Promise.all([
    import('commander'),
    import('./output.js'),
    import('./command.js'),
    import('./commands/index.js'),
    import('../core/errors.js'),
    import('../core/quote.js'),
    import('node:fs'),
    import('node:path'),
  ]);
  // `ckpt diff A B -- PATHS`, `ckpt rollback 3 -- PATHS`: paths after `--` are
  // taken here, so no path is ever read as an option or a target.
  let paths: string[] = [];
  const cmdIdx = argv.findIndex((a, i) => !a.startsWith('-') && argv[i - 1] !== '-C' && !(argv[i - 1] === '--color' && ['auto', 'always', 'never'].includes(a)));
  if (cmdIdx >= 0 && ['diff', 'rollback'].includes(argv[cmdIdx]!)) {
    const dd = argv.indexOf('--', cmdIdx);
    if (dd >= 0) {
      paths = argv.slice(dd + 1);
      argv = argv.slice(0, dd);
    }
  }
  const colorArg = (v: string | undefined): ColorMode => {
    if (v === undefined || v === 'always') return 'always';
    if (v === 'auto' || v === 'never') return v;
    throw new InvalidArgumentError(`--color takes auto, always or never (got ${JSON.stringify(v)}; write --color=WHEN)`);
  };
  const program = new Command(meta.program);
  program
    .description('Checkpoints for AI coding agents: every step undoable; races between agents on one task.')
    .version(VERSION, '-V, --version')
    .option('-C <dir>', 'run as if started in DIR')
    .option('--color [when]', 'colour: auto (a terminal, the default), always, never', colorArg)
    .option('--no-color', 'no colour (same as --color=never)')
    .showHelpAfterError()
    .exitOverride()
    // commander's own messages echo what was typed (`unknown option '--x…'`): control characters escaped.
    .configureOutput({ writeErr: (s) => process.stderr.write(quote(s, 'text')), writeOut: (s) => process.stdout.write(s) });
  if (meta.program === 'race') {
    // The race bin is `ckpt race` under the name race: its commands are the
    // `race` subcommand of a root named race, whose usage would read
    // `race race run`. Inherited by every subcommand (registered below).
    program.configureHelp({ commandUsage: (cmd) => Help.prototype.commandUsage.call(new Help(), cmd).replace(/^race race\b/, 'race') });
  }

  // Watches stdout and stderr for write errors from the first byte on (help text included).
  let last: OutputType = new Output({ json: false, color: 'never' });
  const globals = (): { C?: string; color?: ColorMode | boolean } => program.opts();
  const colorMode = (): ColorMode => {
    const c = globals().color;
    // `--color` alone: always (as `ckpt diff --color` always did); `--no-color`: never.
    return c === false ? 'never' : c === true ? 'always' : (c ?? 'auto');
  };
  const ctxFor = (out: OutputType): Ctx => {
    const given = globals().C;
    let cwd = process.cwd();
    if (given !== undefined) {
      cwd = path.resolve(given);
      let isDir = false;
      try {
        isDir = statSync(cwd).isDirectory();
      } catch {
        isDir = false;
      }
      if (!isDir) {
        throw new CkptError('INVALID_ARGUMENT', `-C: no such directory: ${JSON.stringify(given)}`, { hint: 'Give an existing directory after -C.', data: { option: '-C', value: given } });
      }
    }
    return { cwd, out, program: meta.program, bin, paths };
  };
  const act: Act = (schema, run) =>
    async (...args: unknown[]): Promise<void> => {
      const cmd = args[args.length - 1] as CommandType;
      const out = new Output({ json: !!cmd.opts().json, color: colorMode() });
      last = out;
      try {
        const ctx = ctxFor(out);
        const input = parseInput(schema, cmd);
        const code = await run(ctx, input);
        process.exitCode = typeof code === 'number' ? code : EXIT.ok;
      } catch (err) {
        process.exitCode = out.fail(err);
      }
    };
  await registerCommands(program, act, cmdIdx >= 0 ? argv[cmdIdx] : undefined);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.user;
      // commander printed its message on stderr; a script that asked for JSON gets the error as JSON too.
      if (err.exitCode !== 0 && argv.includes('--json')) {
        const usage = new CkptError('INVALID_ARGUMENT', err.message.replace(/^error: /, ''), { hint: `See \`${meta.program} --help\`.`, data: { commander: err.code } });
        last = new Output({ json: true });
        process.exitCode = last.fail(usage);
      }
    } else throw err;
  }
  await settleOutput(last);
}

/**
 * The full hook (cli/commands/hook.ts `runHookAfterClient`) for the tiny
 * hook entry (hook/main.ts, the installed hook command) when the daemon did
 * not serve it: `tried.daemon` says what asking it came to, so it is not
 * asked again. Loads only the hook's own modules. Never throws; returns 0.
 *
 * @param ckptBin the ckpt bin a daemon is started with when none answered.
 */
export async function hookFallback(agent: string | undefined, input: HookInput, tried: { daemon: DaemonOutcome }, ckptBin?: string): Promise<number> {
  const { runHookAfterClient } = await import('./commands/hook.js');
  return runHookAfterClient(agent, input, tried, ckptBin);
}

declare const CKPT_VERSION: string | undefined;
const VERSION = typeof CKPT_VERSION === 'string' ? CKPT_VERSION : '0.1.0';
