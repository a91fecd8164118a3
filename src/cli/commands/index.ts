/**
 * Every command, in the order `ckpt --help` lists them; each file owns its
 * options. Only the command being run is loaded (with its library modules
 * and its schema), so `ckpt log` does not pay for the race or the viewer;
 * help, `--version` and unknown names load them all.
 */
import type { Command } from 'commander';
import type { Act } from '../command.js';

interface CommandModule {
  register(parent: Command, act: Act): void;
}

const COMMANDS: [string, () => Promise<CommandModule>][] = [
  ['snap', () => import('./snap.js')],
  ['log', () => import('./log.js')],
  ['diff', () => import('./diff.js')],
  ['rollback', () => import('./rollback.js')],
  ['watch', () => import('./watch.js')],
  ['hooks', () => import('./hooks.js')],
  ['hook', () => import('./hook.js')],
  ['gc', () => import('./gc.js')],
  ['daemon', () => import('./daemon.js')],
  ['status', () => import('./status.js')],
  ['agents', () => import('./agents.js')],
  ['view', () => import('./view.js')],
  ['demo', () => import('./demo.js')],
  ['race', () => import('../race-commands.js').then((m) => ({ register: m.registerRace }))],
];

/**
 * Registers `name`'s command on `program`, or every command when `name` is
 * not one (help, a typo: commander then lists or suggests them).
 */
export async function registerCommands(program: Command, act: Act, name: string | undefined): Promise<void> {
  const one = COMMANDS.find(([n]) => n === name);
  const mods = await Promise.all((one ? [one] : COMMANDS).map(([, load]) => load()));
  for (const m of mods) m.register(program, act);
}
