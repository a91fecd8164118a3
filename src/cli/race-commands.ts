/** Registers the race subcommands (filled in by the race work). */
import type { Command, Option } from 'commander';

export function registerRace(_program: Command, _action: unknown, _option: typeof Option): void {
  // race commands are registered here
}
