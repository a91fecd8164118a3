#!/usr/bin/env node
// A layering guard dependency-cruiser cannot express (it sees imports only):
// command files (src/cli/commands/**) print through the one Output of the CLI,
// so they never reference `process.stdout`, `process.stderr` or `console`
// themselves (docs/architecture.md, "Layers"). Run by `npm run lint:layers`.
//
//   node scripts/check-output.mjs [ROOT]      ROOT defaults to the current directory
//
// The files are parsed with TypeScript's own parser, so a `console.log` inside
// a string (the demo's scripted agents) or a comment is not a reference.
// Exits 1 when a file not listed in KNOWN_EXCEPTIONS has a reference, 2 on a
// usage error; a listed file that has none left is reported so that its entry
// can be removed.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * KNOWN EXCEPTIONS (each of these prints, or reads the terminal's width or
 * TTY state, on its own instead of through cli/output.ts). hook.ts runs
 * before commander and the Output are loaded, and has no terminal to speak to. Keys are paths
 * relative to the repository; a file listed here may still not gain new kinds
 * of reference silently: the report lists every reference it has.
 */
const KNOWN_EXCEPTIONS = new Map([
  ['src/cli/commands/hook.ts', 'writes its error line to process.stderr'],
]);

const COMMANDS_DIR = path.join('src', 'cli', 'commands');
const STREAMS = new Set(['stdout', 'stderr']);

/** Every `.ts` file under `dir`, as paths relative to `root` with `/` separators, sorted. */
function tsFiles(root, dir) {
  const out = [];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = path.join(rel, e.name);
      if (e.isDirectory()) walk(child);
      else if (e.isFile() && /\.(c|m)?tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(child.split(path.sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

/** `process` itself or `globalThis.process`. */
function isProcess(node) {
  if (ts.isIdentifier(node)) return node.text === 'process';
  return ts.isPropertyAccessExpression(node) && node.name.text === 'process' && ts.isIdentifier(node.expression) && node.expression.text === 'globalThis';
}

/** A property name as written in `x.name`, `x['name']` or `{ name }`. */
function nameOf(node) {
  if (!node) return undefined;
  if (ts.isIdentifier(node) || ts.isStringLiteralLike(node) || ts.isPrivateIdentifier(node)) return node.text;
  return undefined;
}

/**
 * The references to the process's output streams or to `console` in one
 * source file: `{ line, text }` with a 1-based line number.
 */
export function findOutputReferences(fileName, source) {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, fileName.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const found = [];
  const add = (node, text) => found.push({ line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, text });
  const visit = (node) => {
    if (ts.isPropertyAccessExpression(node) && isProcess(node.expression) && STREAMS.has(node.name.text)) {
      add(node, `process.${node.name.text}`);
    } else if (ts.isElementAccessExpression(node) && isProcess(node.expression) && STREAMS.has(nameOf(node.argumentExpression))) {
      add(node, `process[${JSON.stringify(nameOf(node.argumentExpression))}]`);
    } else if (ts.isVariableDeclaration(node) && node.initializer && isProcess(node.initializer) && ts.isObjectBindingPattern(node.name)) {
      // const { stdout } = process
      for (const el of node.name.elements) {
        const key = nameOf(el.propertyName ?? el.name);
        if (STREAMS.has(key)) add(el, `{ ${key} } = process`);
      }
    } else if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && /^(node:)?process$/.test(node.moduleSpecifier.text)) {
      // import { stdout } from 'node:process' (or the whole module)
      const clause = node.importClause;
      const named = clause?.namedBindings;
      if (clause?.name || (named && ts.isNamespaceImport(named))) add(node, `import of ${node.moduleSpecifier.text}`);
      else if (named && ts.isNamedImports(named)) {
        for (const el of named.elements) {
          const key = nameOf(el.propertyName ?? el.name);
          if (STREAMS.has(key)) add(el, `import { ${key} } from '${node.moduleSpecifier.text}'`);
        }
      }
    } else if (ts.isIdentifier(node) && node.text === 'console' && !(ts.isPropertyAccessExpression(node.parent) && node.parent.name === node)) {
      // console.log(…), console['error'], const c = console: the same streams by another name.
      const p = node.parent;
      add(node, ts.isPropertyAccessExpression(p) && p.expression === node ? `console.${p.name.text}` : 'console');
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

function main() {
  const args = process.argv.slice(2);
  if (args.length > 1 || args.some((a) => a.startsWith('-'))) {
    console.error('usage: node scripts/check-output.mjs [ROOT]');
    process.exit(2);
  }
  const root = path.resolve(args[0] ?? '.');
  if (!fs.existsSync(path.join(root, COMMANDS_DIR))) {
    console.error(`check-output: ${path.join(root, COMMANDS_DIR)} does not exist`);
    process.exit(2);
  }
  const files = tsFiles(root, COMMANDS_DIR);
  let errors = 0;
  let known = 0;
  for (const rel of files) {
    const refs = findOutputReferences(rel, fs.readFileSync(path.join(root, rel), 'utf8'));
    if (refs.length === 0) {
      if (KNOWN_EXCEPTIONS.has(rel)) console.log(`note: ${rel} no longer references the output streams: remove it from KNOWN_EXCEPTIONS in scripts/check-output.mjs`);
      continue;
    }
    const isKnown = KNOWN_EXCEPTIONS.has(rel);
    if (isKnown) known++;
    else errors++;
    for (const r of refs) console.log(`${isKnown ? 'known' : 'error'}: ${rel}:${r.line}: ${r.text}`);
  }
  for (const rel of KNOWN_EXCEPTIONS.keys()) if (!files.includes(rel)) console.log(`note: ${rel} (in KNOWN_EXCEPTIONS) does not exist: remove its entry`);
  const summary = `${files.length} command files checked: ${errors} reference the output streams directly, ${known} known exceptions`;
  if (errors > 0) {
    console.log(`✘ ${summary}. Command files print through ctx.out (cli/output.ts), never process.stdout, process.stderr or console.`);
    process.exit(1);
  }
  console.log(`✔ ${summary}.`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) main();
