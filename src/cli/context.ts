/** What every command's `run` receives besides its own validated input. */
import type { Output } from './output.js';

/** Context shared by every command. */
export interface Ctx {
  /** Directory to act in (`-C DIR`, default the current directory), checked to exist. */
  cwd: string;
  /** The one output channel: text, JSON, events, raw streams, colour, quoting. */
  out: Output;
  /** `ckpt` or `race`: how the user called us, for hints. */
  program: string;
  /** Path of the bin script, for hooks that must call ckpt back. */
  bin: string;
  /** Paths given after `--` (diff, rollback), as typed: relative to `cwd`. */
  paths: string[];
}
