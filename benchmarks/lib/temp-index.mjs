// Temporary index files for the git alternatives.
import path from 'node:path';
import { WORK } from './env.mjs';

let tmpCounter = 0;
/** A path for a temporary index that does not exist yet (git refuses an empty file as an index). */
export function tmpIndexPath() {
  return path.join(WORK, 'tmp', `index-${process.pid}-${++tmpCounter}`);
}
