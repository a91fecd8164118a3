/**
 * The race subcommands, registered both as `race …` (the `race` bin) and
 * `ckpt race …`. `race "TASK" --models …` runs a race (the default
 * subcommand); a task that starts with `-` goes after `--`.
 */
import type { Command, Option as OptionClass } from 'commander';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Action = (load: () => Promise<{ run: (...a: any[]) => Promise<number | void> }>) => (...args: unknown[]) => Promise<void>;

export function registerRace(program: Command, action: Action, Option: typeof OptionClass): void {
  const race = program.command('race').description('run several agents on one task, each in its own worktree; compare; pick the winner');
  const withRace = (c: Command): Command => c.option('--race <id>', 'the race (default: the latest)').option('--json', 'print JSON');

  race
    .command('run', { isDefault: true })
    .description('race agents on TASK (the default: `race "TASK" --models claude,codex`)')
    .argument('<task...>', 'the task, given to every agent as one argument (or on stdin)')
    .requiredOption('-m, --models <list>', 'agents: claude,codex | claude@opus,claude@sonnet | claude:3')
    .option('--check <cmd>', 'run in each attempt when its agent ends (e.g. "npm test")')
    .option('--base <ref>', 'start from this snapshot (step, id) or git revision (default: the worktree as it is now)')
    .option('--timeout <duration>', 'wall-clock limit per agent (default 30m)')
    .option('--idle-timeout <duration>', 'kill an agent silent this long (default 10m)')
    .option('--check-timeout <duration>', 'limit for --check (default 15m)')
    .option('--max-parallel <n>', 'run at most N agents at once')
    .option('--setup <cmd>', 'run in each attempt before its agent (e.g. "npm ci")')
    .option('--worktree-dir <dir>', 'where attempt worktrees go (default ~/.cache/ckpt/worktrees)')
    .addOption(new Option('--clean', 'remove the worktrees when the race ends (snapshots stay)').conflicts('keep'))
    .addOption(new Option('--keep', 'keep the worktrees (the default)'))
    .option('-n, --dry-run', "print each attempt's command, directory and environment; run nothing")
    .option('--json', 'print the race record as JSON at the end')
    .action(action(() => import('./commands/race-run.js')));

  withRace(race.command('show').description('the summary of a race')).action(action(() => import('./commands/race-show.js')));
  race
    .command('list')
    .description('all races of this repository')
    .option('--json', 'print JSON')
    .action(action(() => import('./commands/race-show.js').then((m) => ({ run: m.list }))));
  withRace(race.command('diff').description("attempts' changes against the base").argument('[attempts...]', 'attempt names (default: all)'))
    .option('--side-by-side', 'attempts in columns fitted to the terminal')
    .option('--stat', 'per-file counts only')
    .option('--no-pager', 'never page')
    .action(action(() => import('./commands/race-diff.js')));
  withRace(race.command('pick').description("take an attempt: by default its changes become uncommitted changes in your worktree (undo: ckpt rollback --undo)").argument('<attempt>'))
    .option('--squash', 'commit it onto the current branch as one commit')
    .option('--merge', 'merge it into the current branch (git merge --no-ff)')
    .option('--branch <name>', 'create a branch holding it; your worktree is not touched')
    .option('-n, --dry-run', 'check and show what would change')
    .action(action(() => import('./commands/race-pick.js')));
  withRace(race.command('clean').description("remove a race's worktrees and branches (its checkpoints stay until ckpt gc)")).action(
    action(() => import('./commands/race-show.js').then((m) => ({ run: m.clean }))),
  );
  withRace(race.command('view').description('compare the attempts side by side in the browser, and pick from there'))
    .option('--no-open', 'print the URL, do not open a browser')
    .option('--out <file>', 'write a self-contained HTML report instead of serving')
    .option('--port <n>', 'port (default: a free one)')
    .action(action(() => import('./commands/race-view.js')));
  race
    .command('demo')
    .description('race three scripted agents in a throwaway repository')
    .option('--keep', 'keep the demo repository')
    .option('--json', 'print JSON')
    .action(action(() => import('./commands/race-demo.js').then((m) => ({ run: m.runStandalone }))));
}
