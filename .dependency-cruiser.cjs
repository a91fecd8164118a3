// Layering rules for src/ (docs/architecture.md, "Layers"), checked by
// `npm run lint:layers` in .ci/run. Each layer imports only the ones below it:
//
//   cli/  →  view/ → race/ → watch/ → agents/  →  snapshot/  →  git/  →  core/
//
// src/hook/ (the installed hook command's entry) sits beside cli/: it imports
// only Node's built-ins and watch/daemon-paths.ts and watch/daemon-client.ts.
//
// view/, race/, watch/ and agents/ form one tier above the snapshot core; inside
// it the viewer reads races, a race starts watchers and agents, and neither a
// watcher nor an agent integration knows about races or the viewer (an agent
// integration knows no watcher either). src/index.ts
// (the library) never imports cli/. Type-only imports count too: a lower layer
// that needs a higher layer's type has the type in the wrong place.
//
// Whether a command file prints by itself is not an import, so that rule is
// scripts/check-output.mjs (also run by `npm run lint:layers`).

/** A module path under src/ in one of the folders named. */
const under = (...dirs) => `^src/(${dirs.join('|')})/`;

/** A rule forbidding `from` to import anything in `to`. */
const upward = (name, from, to, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { path: under(from) },
  to: { path: under(...to) },
});

/**
 * A known import cycle through files of src/ (paths relative to it, in import
 * order; the last imports the first). dependency-cruiser reports a known
 * violation as a warning instead of an error; any other cycle is an error.
 */
const knownCycle = (...files) => {
  const names = files.map((f) => `src/${f}`);
  return {
    type: 'cycle',
    from: names[0],
    to: names[1],
    rule: { severity: 'error', name: 'no-cycles' },
    cycle: [...names.slice(1), names[0]].map((name) => ({ name, dependencyTypes: ['local', 'import'] })),
  };
};

/**
 * KNOWN EXCEPTIONS, to be removed (the list emptied) once fixed. None now:
 * the CLI's cycles through cli/main.ts went with cli/context.ts, and the
 * git layer's (repo.ts ↔ store.ts over the `Repo` type) with git/repo-type.ts.
 */
const KNOWN_CYCLES = [
];

module.exports = {
  forbidden: [
    upward('core-imports-nothing-of-ckpt', 'core', ['git', 'snapshot', 'agents', 'watch', 'race', 'view', 'cli'],
      'core/ (errors, types, durations) is the bottom layer: it imports no other folder of src/.'),
    upward('git-below-snapshot', 'git', ['snapshot', 'agents', 'watch', 'race', 'view', 'cli'],
      'git/ runs git and reads objects and refs; it knows nothing of snapshots or anything above them.'),
    upward('snapshot-below-agents-watch-race-view', 'snapshot', ['agents', 'watch', 'race', 'view', 'cli'],
      'snapshot/ is the checkpoint core; agents, the watcher, races and the viewer call it, never the other way.'),
    upward('agents-below-race-and-view', 'agents', ['watch', 'race', 'view', 'cli'],
      'agents/ (presets, hooks, output parsers, processes) may import snapshot/, git/ and core/ only; race/ imports agents/.'),
    upward('watch-below-race-and-view', 'watch', ['race', 'view', 'cli'],
      'watch/ turns file events into snapshots; race/ starts watchers, the watcher knows nothing of races or the viewer.'),
    upward('race-below-view', 'race', ['view', 'cli'],
      'race/ is shown by view/, not the other way; the CLI drives both.'),
    upward('view-below-cli', 'view', ['cli'],
      'view/ renders and serves; printing, exit codes and options belong to cli/.'),
    {
      name: 'library-never-imports-cli',
      comment: 'src/index.ts is the library: it never prints or exits, so it never reaches cli/.',
      severity: 'error',
      from: { path: '^src/index\\.ts$' },
      to: { path: under('cli') },
    },
    {
      name: 'browser-client-has-no-node',
      comment: 'src/view/client/ is bundled for the browser: no Node built-ins.',
      severity: 'error',
      from: { path: '^src/view/client/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'browser-client-takes-only-types-from-outside',
      comment: 'src/view/client/ shares only types with the rest of src/ (view/wire.ts and the models it names), and core/plural.ts (counts in words: no imports, the same spelling in the terminal and the browser); code from the Node side does not belong in the browser bundle.',
      severity: 'error',
      from: { path: '^src/view/client/' },
      to: { path: '^src/', pathNot: ['^src/view/client/', '^src/core/plural\\.ts$'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'hook-entry-loads-only-the-socket',
      comment: "src/hook/ is the installed hook command's entry (dist/hook.cjs, one bundled file): it imports only Node's built-ins and the daemon's paths and client, so a hook the daemon serves loads no CLI, commander, zod or snapshot code (scripts/build.mjs checks the bundle too).",
      severity: 'error',
      from: { path: '^src/hook/' },
      to: { pathNot: ['^src/hook/', '^src/watch/daemon-(paths|client)\\.ts$'], dependencyTypesNot: ['core'] },
    },
    upward('only-the-cli-imports-the-hook-entry', '(core|git|snapshot|agents|watch|race|view)', ['hook'],
      'src/hook/ sits just below cli/ (cli/commands/hook.ts shares its client side); no lower layer knows the hook entry.'),
    {
      name: 'zod-through-core-zod',
      comment: "zod is imported by name through src/core/zod.ts: `import { z } from 'zod'` is a namespace holding all of zod, which the bundle then keeps whole (755 KB instead of ~190 KB, loaded by every command).",
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/core/zod\\.ts$' },
      to: { path: 'node_modules/zod/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-cycles',
      comment: 'The import graph of src/ has no cycle (type-only imports included).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve is a typo or a missing dependency.',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    knownViolations: KNOWN_CYCLES,
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
