/**
 * The command-line program: parses arguments with commander, runs one
 * library call per command (each in src/cli/commands/, loaded lazily so
 * `ckpt hook claude` starts fast), renders the result, sets the exit code.
 */
import type { Output } from './output.js';

/** Context shared by every command. */
export interface Ctx {
  /** Directory to act in (`-C DIR`, default the current directory). */
  cwd: string;
  out: Output;
  /** `ckpt` or `race`: how the user called us, for hints. */
  program: string;
  /** Path of the bin script, for hooks that must call ckpt back. */
  bin: string;
  /** Paths given after `--` (diff, rollback), as typed: relative to `cwd`. */
  paths: string[];
}

type Opts = Record<string, unknown> & { json?: boolean };

/**
 * Runs the CLI with `argv` (without node and script) and sets `process.exitCode`.
 */
export async function main(argv: string[], meta: { program: string; bin?: string }): Promise<void> {
  process.stdout.on('error', () => undefined); // EPIPE: the reader went away
  const bin = meta.bin ?? process.argv[1] ?? 'ckpt';
  // Fast path: agent hooks run twice per tool call; skip commander entirely.
  if (argv[0] === 'hook') {
    const { runHook } = await import('./commands/hook.js');
    process.exitCode = await runHook(argv.slice(1));
    return;
  }
  const [{ Command, CommanderError, Option, InvalidArgumentError }, { EXIT, Output }] = await Promise.all([import('commander'), import('./output.js')]);
  const parseIntArg = (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`not a whole number: ${v}`);
    return n;
  };
  // `ckpt diff A B -- PATHS`, `ckpt rollback 3 -- PATHS`: paths after `--` are
  // taken here, so no path is ever read as an option or a target.
  let paths: string[] = [];
  const cmdIdx = argv.findIndex((a, i) => !a.startsWith('-') && argv[i - 1] !== '-C');
  if (cmdIdx >= 0 && ['diff', 'rollback'].includes(argv[cmdIdx]!)) {
    const dd = argv.indexOf('--', cmdIdx);
    if (dd >= 0) {
      paths = argv.slice(dd + 1);
      argv = argv.slice(0, dd);
    }
  }
  const program = new Command(meta.program);
  program
    .description('Checkpoints for AI coding agents: every step undoable; races between agents on one task.')
    .version(VERSION, '-V, --version')
    .option('-C <dir>', 'run as if started in DIR')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });

  const ctxFor = (opts: Opts): Ctx => ({
    cwd: (program.opts().C as string | undefined) ?? process.cwd(),
    out: new Output(!!opts.json),
    program: meta.program,
    bin,
    paths,
  });
  const action =
    (load: () => Promise<{ run: (ctx: Ctx, ...args: never[]) => Promise<number | void> }>) =>
    async (...args: unknown[]): Promise<void> => {
      const cmd = args[args.length - 1] as InstanceType<typeof Command>;
      const opts = cmd.opts() as Opts;
      const ctx = ctxFor(opts);
      try {
        const mod = await load();
        const code = await (mod.run as (ctx: Ctx, ...a: unknown[]) => Promise<number | void>)(ctx, ...args.slice(0, -2), opts, cmd);
        process.exitCode = typeof code === 'number' ? code : EXIT.ok;
      } catch (err) {
        process.exitCode = ctx.out.fail(err);
      }
    };

  program
    .command('snap')
    .description('record the worktree as it is now (tracked and untracked files, ignored ones left out)')
    .option('-m, --message <msg>', 'a one-line message')
    .option('--agent <name>', 'record the snapshot as made by this agent')
    .option('--force', 'record even if nothing changed since the last snapshot')
    .option('--json', 'print JSON')
    .action(action(() => import('./commands/snap.js')));

  program
    .command('log')
    .description('list the steps recorded for this worktree, newest first')
    .option('-n, --max-count <n>', 'show at most N steps', parseIntArg)
    .option('--json', 'print JSON')
    .action(action(() => import('./commands/log.js')));

  program
    .command('diff')
    .description('show changes between two snapshots, or a snapshot and the worktree')
    .argument('[from]', 'older snapshot: step, -N or id (default: the newest)')
    .argument('[to]', 'newer snapshot (default: the live worktree)')
    .option('--stat', 'only per-file counts')
    .option('--color', 'force colour')
    .option('--no-color', 'no colour')
    .option('--json', 'print JSON')
    .allowExcessArguments(false)
    .action(action(() => import('./commands/diff.js')));

  program
    .command('rollback')
    .description('restore a step (the whole tree or some paths); undoable with --undo')
    .argument('[target]', 'step number, -N (N steps back) or snapshot id; default: undo the last agent step')
    .option('--to <time>', 'the newest snapshot at or before TIME ("10 minutes ago", an ISO date)')
    .option('--undo', 'undo the last rollback')
    .option('-n, --dry-run', 'show what would change, change nothing')
    .option('--json', 'print JSON')
    .action(action(() => import('./commands/rollback.js')));

  program
    .command('watch')
    .description('snapshot worktrees automatically whenever a burst of writes settles')
    .argument('[dirs...]', 'worktrees to watch (default: the current one)')
    .option('--quiet <ms>', 'quiet time before a snapshot, in ms', parseIntArg, 300)
    .option('--max-wait <ms>', 'snapshot at least this often during continuous writes, in ms', parseIntArg, 5000)
    .option('--agent <name>', 'record snapshots as made by this agent')
    .option('--json', 'print one JSON line per snapshot')
    .action(action(() => import('./commands/watch.js')));

  const hooks = program.command('hooks').description("install or remove agents' hooks that snapshot around each tool call");
  hooks
    .command('install')
    .argument('<agent>', 'claude')
    .description("add ckpt's PreToolUse/PostToolUse hooks to .claude/settings.local.json")
    .option('--json', 'print JSON')
    .action(action(() => import('./commands/hooks.js').then((m) => ({ run: m.install }))));
  hooks
    .command('uninstall')
    .argument('<agent>', 'claude')
    .description("remove exactly ckpt's hooks")
    .option('--json', 'print JSON')
    .action(action(() => import('./commands/hooks.js').then((m) => ({ run: m.uninstall }))));
  program.command('hook').argument('<agent>').description('(called by agent hooks) snapshot around one tool call; reads the hook JSON on stdin');

  program
    .command('gc')
    .description('prune old snapshots of this worktree')
    .option('--keep <n>', 'keep the newest N snapshots', parseIntArg)
    .option('--older-than <duration>', 'drop snapshots older than DURATION (7d, 12h)')
    .option('-n, --dry-run', 'report only')
    .option('--json', 'print JSON')
    .action(action(() => import('./commands/gc.js')));

  program
    .command('status')
    .description('worktrees with snapshots, the last step of each, and the storage they take')
    .option('--json', 'print JSON')
    .action(action(() => import('./commands/status.js')));

  program
    .command('view')
    .description("this worktree's checkpoints in the browser: the timeline and each step's diff")
    .option('--no-open', 'print the URL, do not open a browser')
    .option('--out <file>', 'write a self-contained HTML report instead of serving')
    .option('--port <n>', 'port (default: a free one)')
    .option('--json', 'print JSON')
    .action(action(() => import('./commands/race-view.js').then((m) => ({ run: m.runWorktree }))));

  program
    .command('demo')
    .description('run the built-in demo in a throwaway repository')
    .option('--keep', 'keep the demo repository')
    .option('--no-race', 'skip the race part')
    .option('--json', 'print JSON')
    .action(action(() => import('./commands/demo.js')));

  const { registerRace } = await import('./race-commands.js');
  registerRace(program, action, Option);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.user;
      return;
    }
    throw err;
  }
}

declare const CKPT_VERSION: string | undefined;
const VERSION = typeof CKPT_VERSION === 'string' ? CKPT_VERSION : '0.1.0';
