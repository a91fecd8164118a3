/**
 * Once per test run: bundles the viewer's browser client into
 * dist/view-client.js (scripts/build-client.mjs), so the page the viewer
 * tests load is built from the client's current source even when the rest
 * of the package was not rebuilt.
 */
import path from 'node:path';
import { buildClient } from '../../scripts/build-client.mjs';

export default async function setup(): Promise<void> {
  await buildClient(path.resolve(import.meta.dirname, '..', '..'));
}
