/**
 * The race subcommands, registered both as `race …` (the `race` bin) and
 * `ckpt race …`. `race "TASK" --models …` runs a race (the default
 * subcommand); a task that starts with `-` goes after `--`. Each subcommand
 * owns its options in its command file.
 */
import type { Command } from 'commander';
import type { Act } from './command.js';
import * as clean from './commands/race-clean.js';
import * as demo from './commands/race-demo.js';
import * as diff from './commands/race-diff.js';
import * as list from './commands/race-list.js';
import * as pick from './commands/race-pick.js';
import * as review from './commands/race-review.js';
import * as run from './commands/race-run.js';
import * as show from './commands/race-show.js';
import * as view from './commands/race-view.js';

export function registerRace(program: Command, act: Act): void {
  const race = program.command('race').description('run several agents on one task, each in its own worktree; compare; pick the winner');
  for (const cmd of [run, show, list, diff, pick, review, clean, view, demo]) cmd.register(race, act);
}
