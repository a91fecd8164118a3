#!/usr/bin/env node
// Layering guards dependency-cruiser cannot express (it sees imports only):
// command files (src/cli/commands/**) print through the one Output of the CLI,
// take their options from their own schema and leave the exit code to
// cli/main.ts, so they never reference `process.stdout`, `process.stderr`,
// `console`, `process.argv`, `process.exit` or `process.exitCode` themselves
// (docs/architecture.md, "Layers"). And no file under src/ spells a count
// with a "(s)" or "(es)" plural ("file(s)"): counts are words, "1 file",
// "2 files" (core/plural.ts counted()), in the terminal and the browser.
// Run by `npm run lint:layers`.
//
//   node scripts/check-output.mjs [ROOT] [--exceptions FILE]
//
// ROOT defaults to the current directory; FILE (JSON: {"path": ["kind", …]})
// adds exceptions to KNOWN_EXCEPTIONS (the guards' own test shows with it that
// an exception allows only its own kind).
//
// The files are parsed with TypeScript's own parser, so a `console.log` inside
// a string (the demo's scripted agents) or a comment is not a reference.
// Exits 1 when a file has a reference its KNOWN_EXCEPTIONS entry does not
// allow, 2 on a usage error; an entry allowing what its file no longer does
// is reported so that it can be removed.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * KNOWN EXCEPTIONS: path (relative to the repository) → the kinds of
 * reference that file may keep, and why. Any other kind in the same file is
 * still an error. None now: the hook's writes to stdout (the reply an agent
 * reads) and stderr (its last resort) live in src/hook/client.ts, outside
 * the command files, since the hook has no Output.
 */
/** @type {Map<string, {allow: string[], why: string}>} */
const KNOWN_EXCEPTIONS = new Map([]);

const COMMANDS_DIR = path.join('src', 'cli', 'commands');
/** Properties of `process` a command file must not touch: its output streams, argv and exit. */
const PROCESS_PROPS = new Set(['stdout', 'stderr', 'argv', 'exit', 'exitCode']);

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
 * The references a command file must not make, in one source file: `{ line,
 * text, kind }` with a 1-based line number, `text` as written and `kind` the
 * thing reached (`process.stdout`, `process.argv`, `console`, `node:process`…).
 */
export function findOutputReferences(fileName, source) {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, fileName.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const found = [];
  const add = (node, text, kind) => found.push({ line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, text, kind });
  const visit = (node) => {
    if (ts.isPropertyAccessExpression(node) && isProcess(node.expression) && PROCESS_PROPS.has(node.name.text)) {
      add(node, `process.${node.name.text}`, `process.${node.name.text}`);
    } else if (ts.isElementAccessExpression(node) && isProcess(node.expression) && PROCESS_PROPS.has(nameOf(node.argumentExpression))) {
      add(node, `process[${JSON.stringify(nameOf(node.argumentExpression))}]`, `process.${nameOf(node.argumentExpression)}`);
    } else if (ts.isVariableDeclaration(node) && node.initializer && isProcess(node.initializer) && ts.isObjectBindingPattern(node.name)) {
      // const { stdout } = process
      for (const el of node.name.elements) {
        const key = nameOf(el.propertyName ?? el.name);
        if (PROCESS_PROPS.has(key)) add(el, `{ ${key} } = process`, `process.${key}`);
      }
    } else if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && /^(node:)?process$/.test(node.moduleSpecifier.text)) {
      // import { stdout } from 'node:process' (or the whole module)
      const clause = node.importClause;
      const named = clause?.namedBindings;
      if (clause?.name || (named && ts.isNamespaceImport(named))) add(node, `import of ${node.moduleSpecifier.text}`, 'node:process');
      else if (named && ts.isNamedImports(named)) {
        for (const el of named.elements) {
          const key = nameOf(el.propertyName ?? el.name);
          if (PROCESS_PROPS.has(key)) add(el, `import { ${key} } from '${node.moduleSpecifier.text}'`, `process.${key}`);
        }
      }
    } else if (ts.isIdentifier(node) && node.text === 'console' && !(ts.isPropertyAccessExpression(node.parent) && node.parent.name === node)) {
      // console.log(…), console['error'], const c = console: the same streams by another name.
      const p = node.parent;
      add(node, ts.isPropertyAccessExpression(p) && p.expression === node ? `console.${p.name.text}` : 'console', 'console');
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/**
 * "file(s)", "process(es)": a noun with its plural in parentheses; or a
 * string that starts with one, its noun built from parts (`${what}(s)`,
 * `name + '(s)'`).
 */
const PLURAL_SHORTCUT = /(?:^|[A-Za-z]+)\((?:s|es)\)/g;

/**
 * The "(s)" plurals in the strings of one source file (string literals and
 * the text parts of template literals; comments and regular expressions are
 * not strings): `{ line, text }`, `line` 1-based, `text` the shortcut as
 * written. Counts go through core/plural.ts (`counted(n, 'file')`).
 */
export function findPluralShortcuts(fileName, source) {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, fileName.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const found = [];
  const visit = (node) => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      for (const m of node.text.matchAll(PLURAL_SHORTCUT)) found.push({ line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, text: m[0] });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

function main() {
  const args = process.argv.slice(2);
  const exceptions = new Map(KNOWN_EXCEPTIONS);
  const at = args.indexOf('--exceptions');
  if (at >= 0) {
    const [, file] = args.splice(at, 2);
    try {
      for (const [rel, allow] of Object.entries(JSON.parse(fs.readFileSync(String(file), 'utf8')))) exceptions.set(rel, { allow, why: `listed in ${file}` });
    } catch (err) {
      console.error(`check-output: --exceptions ${file}: ${err.message}`);
      process.exit(2);
    }
  }
  if (args.length > 1 || args.some((a) => a.startsWith('-'))) {
    console.error('usage: node scripts/check-output.mjs [ROOT] [--exceptions FILE]');
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
    const allow = new Set(exceptions.get(rel)?.allow ?? []);
    for (const r of refs) {
      const ok = allow.has(r.kind);
      if (ok) known++;
      else errors++;
      console.log(`${ok ? 'known' : 'error'}: ${rel}:${r.line}: ${r.text}`);
    }
    for (const kind of allow) {
      if (!refs.some((r) => r.kind === kind)) console.log(`note: ${rel} no longer references ${kind}: remove it from its KNOWN_EXCEPTIONS entry in scripts/check-output.mjs`);
    }
  }
  for (const rel of exceptions.keys()) if (!files.includes(rel)) console.log(`note: ${rel} (in KNOWN_EXCEPTIONS) does not exist: remove its entry`);
  let plurals = 0;
  for (const rel of tsFiles(root, 'src')) {
    for (const r of findPluralShortcuts(rel, fs.readFileSync(path.join(root, rel), 'utf8'))) {
      plurals++;
      console.log(`error: ${rel}:${r.line}: ${JSON.stringify(r.text)}: spell the count with counted() (src/core/plural.ts), "1 file" / "2 files"`);
    }
  }
  const summary = `${files.length} command files checked: ${errors} forbidden references, ${known} known exceptions; ${plurals} "(s)" plurals in src/`;
  if (errors > 0 || plurals > 0) {
    console.log(`✘ ${summary}. Counts are spelled in words (core/plural.ts). Command files print through ctx.out (cli/output.ts), never process.stdout, process.stderr or console; they take their options from their schema, not process.argv, and leave process.exit and the exit code to cli/main.ts.`);
    process.exit(1);
  }
  console.log(`✔ ${summary}.`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) main();
