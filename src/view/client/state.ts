/** What the page holds while it runs: the boot data, the server connection, and the race page's state. */
import type { RaceRecord } from '../../race/types.js';
import type { NwayFile, NwayFileSummary } from '../nway.js';
import type { Boot, ComparisonIndex } from '../wire.js';
import type { Api } from './api.js';

/** The page's boot data and its server (the server is never called in a static report). */
export interface Ctx {
  boot: Boot;
  api: Api;
}

/** One file's section on the race page; its body is rendered when it comes near the viewport. */
export interface Section {
  el: HTMLElement;
  body: HTMLElement;
  /** Its entry in the file list. */
  link: HTMLElement;
  file: NwayFileSummary;
  /** Rendered, or on its way (then `rendering` is the render to wait for). */
  rendered: boolean;
  rendering: Promise<void>;
}

/** The race page's state. */
export interface RaceView {
  ctx: Ctx;
  /** The race record, refreshed every 5 s while the race runs. */
  race: RaceRecord;
  index: ComparisonIndex;
  /** Attempts whose columns are shown (the header's checkboxes). */
  visible: Set<string>;
  /** Index of the current file, -1 before the first move. */
  current: number;
  /** Index of the current disagreement in `index.disagreements`, -1 before the first. */
  dis: number;
  /** Files fetched from the server (or on their way), by path. */
  files: Map<string, Promise<NwayFile>>;
  sections: Section[];
}

/** A fresh race page state, every attempt shown. */
export function createRaceView(ctx: Ctx, race: RaceRecord, index: ComparisonIndex): RaceView {
  return { ctx, race, index, visible: new Set(index.attempts), current: -1, dis: -1, files: new Map(), sections: [] };
}
