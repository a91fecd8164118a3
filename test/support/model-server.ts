/**
 * A scripted, offline model server for driving the REAL agent clients
 * (Claude Code, Codex CLI) in tests.
 *
 * It speaks just enough of three wire protocols:
 *  - Anthropic Messages API (Claude Code): `HEAD /api/hello`, `POST /v1/messages?beta=true`
 *    (SSE streaming and plain JSON), `POST /v1/messages/count_tokens`.
 *  - OpenAI Responses API (Codex): `POST /v1/responses` (SSE streaming).
 *  - OpenAI Chat Completions (OpenCode's OpenAI-compatible provider):
 *    `POST /v1/chat/completions` (SSE streaming with `tool_calls` deltas, and plain JSON).
 *  - Gemini API (Gemini CLI, `GOOGLE_GEMINI_BASE_URL`): `POST /v1beta/models/M:generateContent`
 *    (JSON), `:streamGenerateContent?alt=sse` (SSE), `:countTokens`.
 *
 * A script is a list of turns (see `Turn`); each *main* model request consumes the
 * next turn. Client side requests (title generation, quota checks, haiku summaries,
 * count_tokens, ...) are recognised and answered with a short harmless text without
 * consuming a turn. A request is "main" when it declares the client's agent tools
 * (Bash/Write/Edit for Claude, exec_command for Codex, bash/write/edit for OpenCode,
 * write_file/replace/run_shell_command for Gemini).
 *
 * Client-neutral steps are translated for whichever API asks:
 *
 * | step                       | Anthropic (Claude Code)                | Responses (Codex)                                      |
 * |----------------------------|----------------------------------------|--------------------------------------------------------|
 * | write {path, content}      | Write {file_path: ABS, content}        | apply_patch "*** Add File" (content ends in "\n"), else exec_command printf > path |
 * | edit {path, old, new}      | Edit {file_path: ABS, old_string, new_string} | apply_patch "*** Update File" hunk (server reads the file to build it), else exec_command printf |
 * | bash "cmd"                 | Bash {command, description}            | exec_command {cmd}                                      |
 * | delete "path"              | Bash {command: "rm 'path'"}            | apply_patch "*** Delete File", else exec_command rm     |
 * | read "path"                | Read {file_path: ABS}                  | exec_command cat path                                   |
 *
 * Chat Completions (OpenCode): write → `write {filePath: ABS, content}`, edit → `edit
 * {filePath: ABS, oldString, newString, replaceAll?}`, bash → `bash {command, description}`,
 * delete → `bash rm`, read → `read {filePath: ABS}`.
 *
 * Gemini CLI: write → write_file {file_path: ABS, content}; edit → replace {file_path: ABS,
 * old_string, new_string, instruction}; bash → run_shell_command {command, description};
 * delete → run_shell_command rm; read → read_file {file_path: ABS}. Its working directory is
 * the first of the "Workspace Directories" in its session context.
 *
 * Paths: write paths relative to the agent's working directory. The server learns that
 * directory from each request (Claude: "Primary working directory: X" in the system
 * prompt / system messages; Codex: `<cwd>X</cwd>` in the environment context; OpenCode:
 * "Working directory: X" in its system prompt), falling
 * back to `opts.cwd`. Relative paths are made absolute for Claude's Write/Edit (they
 * require absolute paths) and left relative for Codex (its tools run in the cwd).
 * Any string in a step may also contain the literal placeholder `{cwd}`, replaced by
 * that directory.
 */
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

// ---------------------------------------------------------------- script types

export interface WriteStep {
  /** File path, relative to the agent's cwd (or absolute, or with `{cwd}`). */
  path: string;
  content: string;
}
export interface EditStep {
  path: string;
  old: string;
  new: string;
  replaceAll?: boolean;
}
/** One client-neutral tool call. */
export interface Step {
  write?: WriteStep;
  edit?: EditStep;
  /** Shell command, run in the agent's cwd. */
  bash?: string;
  /** Path to delete. */
  delete?: string;
  /** Path to read (Claude: Read tool, which its Edit requires first for files it did not write; Codex: cat). */
  read?: string;
  /**
   * Codex only: `"shell"` forces write/edit/delete through exec_command even when the
   * client declares apply_patch. Default `"auto"` (apply_patch when declared).
   */
  via?: 'auto' | 'shell';
}
export interface ErrorSpec {
  /** HTTP status, e.g. 500, 401, 429, 529. */
  status: number;
  message: string;
  /** API error type; defaults from the status (api_error, authentication_error, ...). */
  type?: string;
}
export interface Usage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
}
/**
 * One model turn. Exactly one of:
 *  - a tool call: `write` / `edit` / `bash` / `delete` (optionally with `text` before it),
 *  - several tool calls in one turn: `calls: [Step, ...]`,
 *  - a final answer: `final: "..."` (or a turn with only `text`),
 *  - an API failure: `error: {status, message}` (answers `times` consecutive main
 *    requests, default 1; `times: 0` = every request from then on).
 */
export interface Turn extends Step {
  text?: string;
  calls?: Step[];
  final?: string;
  error?: ErrorSpec;
  times?: number;
  usage?: Usage;
  /** Wait this long before answering (e.g. to let a race interleave). */
  delayMs?: number;
  /** In-process scripts only: answer once this settles (a test holds the model back until it has seen a state). */
  hold?: Promise<unknown>;
}
export interface Script {
  name?: string;
  description?: string;
  /** Prompt the test gives the client (informational; the server ignores prompts). */
  task?: string;
  turns: Turn[];
}

// ---------------------------------------------------------------- server types

export type Api = 'anthropic' | 'openai' | 'chat' | 'gemini' | 'other';
export interface RecordedRequest {
  api: Api;
  method: string;
  /** URL path with query string. */
  url: string;
  /** `turn`: consumed a script turn; `side`: answered without one; `meta`: hello/models/etc. */
  kind: 'turn' | 'side' | 'meta';
  /** Index of the consumed turn (kind `turn`), or -1 once the script is exhausted. */
  turn?: number;
  session?: string;
  model?: string;
  cwd?: string;
  /** Tool names the client declared in this request. */
  tools: string[];
  /** Tool results this request carries (tool_result / function_call_output items). */
  toolResults: { id: string; output: string; isError?: boolean }[];
  headers: http.IncomingHttpHeaders;
  body: any;
  /** What the server answered. */
  status: number;
  /** The tool calls the server answered with (client-specific name and input). */
  calls: { id: string; name: string; input: unknown }[];
}
export interface ModelServerOptions {
  /** Fallback working directory when the request does not name one. */
  cwd?: string;
  /**
   * `session` (default): each client session (x-claude-code-session-id / session-id
   * header) plays the script from the start, so several agents can share one server.
   * `global`: one cursor for all requests.
   */
  cursor?: 'session' | 'global';
  /** Usage reported for each turn that has none; default {input_tokens: 120, output_tokens: 30}. */
  usage?: Usage;
  /** Text answered once the script is exhausted; default "(script exhausted)". */
  exhausted?: string;
  /** Log each request to stderr. Also enabled by env CKPT_MODEL_SERVER_LOG=1. */
  log?: boolean;
}
export interface ModelServer {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Main (turn-consuming) requests only. */
  turnRequests(): RecordedRequest[];
  close(): Promise<void>;
}

// ---------------------------------------------------------------- helpers

/** Load a script from test/fixtures/scripts/<name>.json (or an explicit path). */
export function loadScript(nameOrPath: string): Script {
  const p =
    nameOrPath.endsWith('.json') || nameOrPath.includes('/')
      ? nameOrPath
      : path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'fixtures', 'scripts', `${nameOrPath}.json`);
  const script = JSON.parse(fs.readFileSync(p, 'utf8')) as Script;
  if (!Array.isArray(script.turns)) throw new Error(`script ${p}: missing "turns" array`);
  return script;
}

const CLAUDE_AGENT_TOOLS = ['Bash', 'Write', 'Edit', 'Read'];
const OPENCODE_AGENT_TOOLS = ['bash', 'write', 'edit'];
const GEMINI_AGENT_TOOLS = ['write_file', 'replace', 'run_shell_command'];
const DEFAULT_USAGE = { input_tokens: 120, output_tokens: 30 };

function errorType(status: number): string {
  if (status === 400) return 'invalid_request_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 529) return 'overloaded_error';
  return 'api_error';
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function subst<T>(v: T, cwd: string | undefined): T {
  if (typeof v === 'string') return (cwd ? v.split('{cwd}').join(cwd) : v) as T;
  if (Array.isArray(v)) return v.map((x) => subst(x, cwd)) as T;
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = subst(x, cwd);
    return o as T;
  }
  return v;
}

function absPath(p: string, cwd: string | undefined): string {
  if (path.isAbsolute(p)) return p;
  if (!cwd) throw new Error(`model-server: relative path ${p} but no cwd known (pass opts.cwd)`);
  return path.join(cwd, p);
}

/** Working directory named in a request (Claude system prompt / Codex environment_context). */
export function findCwd(body: unknown): string | undefined {
  const s = JSON.stringify(body ?? '');
  const m =
    /Primary working directory: ([^\\"]+?)(?:\\n|")/.exec(s) ??
    /<cwd>([^<]+)<\/cwd>/.exec(s) ??
    /Workspace Directories:\*\*\\n\s*- ([^\\"]+?)\\n/.exec(s) ??
    /Working directory: ([^\\"]+?)(?:\\n|")/.exec(s);
  return m?.[1]?.trim();
}

function stepsOf(turn: Turn): Step[] {
  if (turn.calls) return turn.calls;
  if (turn.write || turn.edit || turn.bash !== undefined || turn.delete !== undefined || turn.read !== undefined) {
    const { write, edit, bash, delete: del, read, via } = turn;
    return [{ write, edit, bash, delete: del, read, via }];
  }
  return [];
}

// ------------------------------------------------ translation: Anthropic (Claude)

function claudeCall(step: Step, cwd: string | undefined): { name: string; input: Record<string, unknown> } {
  if (step.write) return { name: 'Write', input: { file_path: absPath(step.write.path, cwd), content: step.write.content } };
  if (step.edit) {
    const input: Record<string, unknown> = {
      file_path: absPath(step.edit.path, cwd),
      old_string: step.edit.old,
      new_string: step.edit.new,
    };
    if (step.edit.replaceAll) input.replace_all = true;
    return { name: 'Edit', input };
  }
  if (step.delete !== undefined) return { name: 'Bash', input: { command: `rm ${shq(step.delete)}`, description: `Delete ${step.delete}` } };
  if (step.read !== undefined) return { name: 'Read', input: { file_path: absPath(step.read, cwd) } };
  if (step.bash !== undefined) return { name: 'Bash', input: { command: step.bash, description: 'Run a scripted command' } };
  throw new Error(`model-server: empty step ${JSON.stringify(step)}`);
}

// ------------------------------------------------ translation: Chat Completions (OpenCode)

function openCodeCall(step: Step, cwd: string | undefined): { name: string; input: Record<string, unknown> } {
  if (step.write) return { name: 'write', input: { filePath: absPath(step.write.path, cwd), content: step.write.content } };
  if (step.edit) {
    const input: Record<string, unknown> = { filePath: absPath(step.edit.path, cwd), oldString: step.edit.old, newString: step.edit.new };
    if (step.edit.replaceAll) input.replaceAll = true;
    return { name: 'edit', input };
  }
  if (step.delete !== undefined) return { name: 'bash', input: { command: `rm ${shq(step.delete)}`, description: `Delete ${step.delete}` } };
  if (step.read !== undefined) return { name: 'read', input: { filePath: absPath(step.read, cwd) } };
  if (step.bash !== undefined) return { name: 'bash', input: { command: step.bash, description: 'Run a scripted command' } };
  throw new Error(`model-server: empty step ${JSON.stringify(step)}`);
}

// ------------------------------------------------ translation: Responses (Codex)

interface CodexCall {
  type: 'function_call' | 'custom_tool_call';
  name: string;
  /** JSON arguments (function_call) or freeform input (custom_tool_call). */
  payload: string;
  input: unknown;
}

function execCall(cmd: string): CodexCall {
  const args = { cmd };
  return { type: 'function_call', name: 'exec_command', payload: JSON.stringify(args), input: args };
}
function patchCall(patch: string): CodexCall {
  return { type: 'custom_tool_call', name: 'apply_patch', payload: patch, input: patch };
}

function addFilePatch(p: string, content: string): string {
  const lines = content.slice(0, -1).split('\n');
  return `*** Begin Patch\n*** Add File: ${p}\n${lines.map((l) => `+${l}\n`).join('')}*** End Patch\n`;
}

/** Minimal line-level Update File hunk replacing `old` with `new` in `text` (first occurrence or all). */
function updateFilePatch(p: string, text: string, e: EditStep): string | undefined {
  if (!text.endsWith('\n')) return undefined;
  const at = text.indexOf(e.old);
  if (at < 0 || e.old === '') return undefined;
  const newText = e.replaceAll ? text.split(e.old).join(e.new) : text.slice(0, at) + e.new + text.slice(at + e.old.length);
  if (!newText.endsWith('\n')) return undefined;
  const a = text.slice(0, -1).split('\n');
  const b = newText.slice(0, -1).split('\n');
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const ctxStart = Math.max(0, pre - 3);
  const ctxEnd = Math.min(suf, 3);
  const out: string[] = [];
  for (let i = ctxStart; i < pre; i++) out.push(` ${a[i]}`);
  for (let i = pre; i < a.length - suf; i++) out.push(`-${a[i]}`);
  for (let i = pre; i < b.length - suf; i++) out.push(`+${b[i]}`);
  for (let i = a.length - suf; i < a.length - suf + ctxEnd; i++) out.push(` ${a[i]}`);
  const eof = ctxEnd === suf ? '*** End of File\n' : '';
  return `*** Begin Patch\n*** Update File: ${p}\n@@\n${out.map((l) => `${l}\n`).join('')}${eof}*** End Patch\n`;
}

function printfTo(p: string, content: string): string {
  return `printf '%s' ${shq(content)} > ${shq(p)}`;
}

function codexCall(step: Step, cwd: string | undefined, tools: string[]): CodexCall {
  const patch = tools.includes('apply_patch') && step.via !== 'shell';
  if (step.write) {
    const { path: p, content } = step.write;
    if (patch && content.endsWith('\n')) return patchCall(addFilePatch(p, content));
    return execCall(printfTo(p, content));
  }
  if (step.edit) {
    const e = step.edit;
    let text: string | undefined;
    try {
      text = fs.readFileSync(absPath(e.path, cwd), 'utf8');
    } catch {
      text = undefined;
    }
    if (text === undefined) {
      // Let the client fail the way a model's bad edit would.
      return execCall(`echo ${shq(`cannot read ${e.path}`)} >&2; exit 1`);
    }
    if (patch) {
      const pt = updateFilePatch(e.path, text, e);
      if (pt) return patchCall(pt);
    }
    if (!text.includes(e.old)) return execCall(`echo ${shq(`old text not found in ${e.path}`)} >&2; exit 1`);
    const at = text.indexOf(e.old);
    const next = e.replaceAll ? text.split(e.old).join(e.new) : text.slice(0, at) + e.new + text.slice(at + e.old.length);
    return execCall(printfTo(e.path, next));
  }
  if (step.delete !== undefined) {
    if (patch) return patchCall(`*** Begin Patch\n*** Delete File: ${step.delete}\n*** End Patch\n`);
    return execCall(`rm ${shq(step.delete)}`);
  }
  if (step.read !== undefined) return execCall(`cat ${shq(step.read)}`);
  if (step.bash !== undefined) return execCall(step.bash);
  throw new Error(`model-server: empty step ${JSON.stringify(step)}`);
}

// ---------------------------------------------------------------- the server

export async function startModelServer(script: Script, opts: ModelServerOptions = {}): Promise<ModelServer> {
  const requests: RecordedRequest[] = [];
  const cursors = new Map<string, { next: number; errorLeft: number }>();
  const log = opts.log ?? process.env.CKPT_MODEL_SERVER_LOG === '1';
  const defaultUsage = { ...DEFAULT_USAGE, ...opts.usage };
  let seq = 0;

  /** Pick the turn for a main request, honouring `times` on error turns. */
  function takeTurn(session: string): { turn: Turn | undefined; index: number } {
    const key = opts.cursor === 'global' ? '*' : session;
    let c = cursors.get(key);
    if (!c) cursors.set(key, (c = { next: 0, errorLeft: -1 }));
    const index = c.next;
    const turn = script.turns[index];
    if (!turn) return { turn: undefined, index: -1 };
    if (turn.error) {
      const times = turn.times ?? 1;
      if (times === 0) return { turn, index };
      if (c.errorLeft < 0) c.errorLeft = times;
      c.errorLeft--;
      if (c.errorLeft <= 0) {
        c.errorLeft = -1;
        c.next++;
      }
      return { turn, index };
    }
    c.next++;
    return { turn, index };
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((err: unknown) => {
        if (log) console.error('[model-server] handler error', err);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: String(err) } }));
      });
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: string): Promise<void> {
    const url = req.url ?? '/';
    const pathname = url.split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    let body: any = undefined;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const api: Api = pathname.startsWith('/v1/messages')
      ? 'anthropic'
      : pathname.startsWith('/v1/responses')
        ? 'openai'
        : pathname.startsWith('/v1/chat/completions')
          ? 'chat'
          : /^\/v1(beta|alpha)?\/models\/[^/]+:(generateContent|streamGenerateContent|countTokens)$/.test(pathname)
            ? 'gemini'
            : 'other';
    const session = String(req.headers['x-claude-code-session-id'] ?? req.headers['session-id'] ?? req.headers['x-session-id'] ?? 'default');
    const rec: RecordedRequest = {
      api,
      method,
      url,
      kind: 'meta',
      session,
      model: typeof body?.model === 'string' ? body.model : undefined,
      cwd: findCwd(body) ?? opts.cwd,
      tools: toolNames(body),
      toolResults: toolResults(api, body),
      headers: req.headers,
      body,
      status: 200,
      calls: [],
    };
    requests.push(rec);
    const done = (): void => {
      if (log) console.error(`[model-server] ${method} ${url} -> ${rec.status} ${rec.kind}${rec.turn !== undefined ? ` #${rec.turn}` : ''} ${rec.calls.map((c) => c.name).join(',')}`);
    };

    // --- meta endpoints
    if (api === 'other' || method !== 'POST') {
      if (method === 'HEAD' || pathname === '/api/hello') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(method === 'HEAD' ? undefined : '{}');
      } else if (pathname.endsWith('/models')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [], models: [] }));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: `no route ${pathname}` } }));
        rec.status = 404;
      }
      return done();
    }
    if (api === 'gemini' && pathname.endsWith(':countTokens')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ totalTokens: Math.max(1, Math.round(raw.length / 4)) }));
      return done();
    }
    if (api === 'gemini' && !rec.model) rec.model = /\/models\/([^/:]+):/.exec(pathname)?.[1];
    if (api === 'anthropic' && pathname.includes('count_tokens')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ input_tokens: Math.max(1, Math.round(raw.length / 4)) }));
      return done();
    }

    // --- model requests
    const main =
      api === 'anthropic'
        ? rec.tools.some((t) => CLAUDE_AGENT_TOOLS.includes(t))
        : api === 'chat'
          ? rec.tools.some((t) => OPENCODE_AGENT_TOOLS.includes(t))
          : api === 'gemini'
            ? rec.tools.some((t) => GEMINI_AGENT_TOOLS.includes(t))
            : rec.tools.includes('exec_command');
    const id = `${++seq}`;
    let turn: Turn;
    if (!main) {
      rec.kind = 'side';
      turn = { final: 'OK' };
    } else {
      rec.kind = 'turn';
      const taken = takeTurn(session);
      rec.turn = taken.index;
      turn = taken.turn ?? { final: opts.exhausted ?? '(script exhausted)' };
    }
    if (turn.delayMs) await new Promise((r) => setTimeout(r, turn.delayMs));
    if (turn.hold) await turn.hold;

    if (turn.error) {
      rec.status = turn.error.status;
      const type = turn.error.type ?? errorType(turn.error.status);
      res.writeHead(turn.error.status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          api === 'anthropic'
            ? { type: 'error', error: { type, message: turn.error.message } }
            : api === 'gemini'
              ? { error: { code: turn.error.status, message: turn.error.message, status: type.toUpperCase() } }
              : { error: { message: turn.error.message, type, code: type, param: null } },
        ),
      );
      return done();
    }

    const usage = { ...defaultUsage, ...turn.usage };
    const cwd = rec.cwd;
    const steps = subst(stepsOf(turn), cwd);
    const text = subst(turn.final ?? turn.text, cwd);
    if (api === 'anthropic') answerAnthropic(res, body, id, rec, text, steps, usage, cwd);
    else if (api === 'chat') answerChat(res, body, id, rec, text, steps, usage, cwd);
    else if (api === 'gemini') answerGemini(res, pathname, id, rec, text, steps, usage, cwd);
    else answerResponses(res, body, id, rec, text, steps, usage, cwd);
    return done();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    turnRequests: () => requests.filter((r) => r.kind === 'turn'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function toolNames(body: any): string[] {
  const out: string[] = [];
  const visit = (tools: unknown): void => {
    if (!Array.isArray(tools)) return;
    for (const t of tools) {
      if (t && typeof t === 'object') {
        if (typeof t.name === 'string') out.push(t.name);
        else if (t.type === 'function' && typeof t.function?.name === 'string') out.push(t.function.name); // Chat Completions
        if (Array.isArray(t.tools)) visit(t.tools);
        if (Array.isArray(t.functionDeclarations)) visit(t.functionDeclarations);
      }
    }
  };
  visit(body?.tools);
  return out;
}

function toolResults(api: Api, body: any): RecordedRequest['toolResults'] {
  const out: RecordedRequest['toolResults'] = [];
  if (api === 'anthropic' && Array.isArray(body?.messages)) {
    for (const m of body.messages) {
      if (!Array.isArray(m?.content)) continue;
      for (const c of m.content) {
        if (c?.type === 'tool_result') {
          const output = typeof c.content === 'string' ? c.content : Array.isArray(c.content) ? c.content.map((x: any) => x?.text ?? '').join('') : '';
          out.push({ id: c.tool_use_id, output, isError: !!c.is_error });
        }
      }
    }
  } else if (api === 'gemini' && Array.isArray(body?.contents)) {
    for (const c of body.contents) {
      if (!Array.isArray(c?.parts)) continue;
      for (const p of c.parts) {
        const fr = p?.functionResponse;
        if (fr) out.push({ id: String(fr.id ?? fr.name), output: JSON.stringify(fr.response ?? null), isError: !!fr.response?.error });
      }
    }
  } else if (api === 'chat' && Array.isArray(body?.messages)) {
    for (const m of body.messages) {
      if (m?.role !== 'tool') continue;
      const c = m.content;
      const output = typeof c === 'string' ? c : Array.isArray(c) ? c.map((x: any) => x?.text ?? '').join('') : '';
      out.push({ id: m.tool_call_id, output });
    }
  } else if (api === 'openai' && Array.isArray(body?.input)) {
    for (const it of body.input) {
      if (it?.type === 'function_call_output' || it?.type === 'custom_tool_call_output') {
        const o = it.output;
        out.push({ id: it.call_id, output: typeof o === 'string' ? o : JSON.stringify(o) });
      }
    }
  }
  return out;
}

// ------------------------------------------------------------ Anthropic answer

function answerAnthropic(
  res: http.ServerResponse,
  body: any,
  id: string,
  rec: RecordedRequest,
  text: string | undefined,
  steps: Step[],
  usage: Usage,
  cwd: string | undefined,
): void {
  const content: any[] = [];
  if (text !== undefined && text !== '') content.push({ type: 'text', text });
  steps.forEach((step, i) => {
    const call = claudeCall(step, cwd);
    const toolId = `toolu_ckpt${id}_${i}`;
    rec.calls.push({ id: toolId, name: call.name, input: call.input });
    content.push({ type: 'tool_use', id: toolId, name: call.name, input: call.input });
  });
  if (content.length === 0) content.push({ type: 'text', text: 'OK' });
  const stopReason = steps.length > 0 ? 'tool_use' : 'end_turn';
  const u = {
    input_tokens: usage.input_tokens ?? 0,
    output_tokens: usage.output_tokens ?? 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
  };
  const msgId = `msg_ckpt${id}`;
  const model = typeof body?.model === 'string' ? body.model : 'claude-test';
  if (!body?.stream) {
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_ckpt${id}` });
    res.end(JSON.stringify({ id: msgId, type: 'message', role: 'assistant', model, content, stop_reason: stopReason, stop_sequence: null, usage: u }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': `req_ckpt${id}` });
  const ev = (type: string, data: Record<string, unknown>): void => {
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  };
  ev('message_start', {
    message: { id: msgId, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...u, output_tokens: 1 } },
  });
  content.forEach((block, index) => {
    if (block.type === 'text') {
      ev('content_block_start', { index, content_block: { type: 'text', text: '' } });
      ev('content_block_delta', { index, delta: { type: 'text_delta', text: block.text } });
    } else {
      ev('content_block_start', { index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
      const json = JSON.stringify(block.input);
      const cut = Math.floor(json.length / 2);
      ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(0, cut) } });
      ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(cut) } });
    }
    ev('content_block_stop', { index });
  });
  ev('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: u.output_tokens } });
  ev('message_stop', {});
  res.end();
}

// ------------------------------------------------------------ Responses answer

function answerResponses(
  res: http.ServerResponse,
  body: any,
  id: string,
  rec: RecordedRequest,
  text: string | undefined,
  steps: Step[],
  usage: Usage,
  cwd: string | undefined,
): void {
  const respId = `resp_ckpt${id}`;
  const model = typeof body?.model === 'string' ? body.model : 'gpt-test';
  const output: any[] = [];
  if (text !== undefined && text !== '') {
    output.push({ type: 'message', id: `msg_ckpt${id}`, role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [] }] });
  }
  steps.forEach((step, i) => {
    const call = codexCall(step, cwd, rec.tools);
    const callId = `call_ckpt${id}_${i}`;
    rec.calls.push({ id: callId, name: call.name, input: call.input });
    if (call.type === 'function_call') {
      output.push({ type: 'function_call', id: `fc_ckpt${id}_${i}`, call_id: callId, name: call.name, arguments: call.payload, status: 'completed' });
    } else {
      output.push({ type: 'custom_tool_call', id: `ctc_ckpt${id}_${i}`, call_id: callId, name: call.name, input: call.payload, status: 'completed' });
    }
  });
  if (output.length === 0) {
    output.push({ type: 'message', id: `msg_ckpt${id}`, role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'OK', annotations: [] }] });
  }
  const inTok = usage.input_tokens ?? 0;
  const outTok = usage.output_tokens ?? 0;
  const u = {
    input_tokens: inTok,
    input_tokens_details: { cached_tokens: usage.cache_read_input_tokens ?? 0 },
    output_tokens: outTok,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: inTok + outTok,
  };
  const base = { id: respId, object: 'response', created_at: Math.floor(Date.now() / 1000), model };
  let n = 0;
  const ev = (type: string, data: Record<string, unknown>): void => {
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: n++, ...data })}\n\n`);
  };
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': `req_ckpt${id}` });
  ev('response.created', { response: { ...base, status: 'in_progress', output: [] } });
  output.forEach((item, output_index) => {
    if (item.type === 'message') {
      ev('response.output_item.added', { output_index, item: { ...item, status: 'in_progress', content: [] } });
      ev('response.content_part.added', { output_index, item_id: item.id, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
      ev('response.output_text.delta', { output_index, item_id: item.id, content_index: 0, delta: item.content[0].text });
      ev('response.output_text.done', { output_index, item_id: item.id, content_index: 0, text: item.content[0].text });
      ev('response.content_part.done', { output_index, item_id: item.id, content_index: 0, part: item.content[0] });
    } else {
      ev('response.output_item.added', { output_index, item });
    }
    ev('response.output_item.done', { output_index, item });
  });
  ev('response.completed', { response: { ...base, status: 'completed', output, usage: u } });
  res.end();
}

// ------------------------------------------------------------ Chat Completions answer

function answerChat(
  res: http.ServerResponse,
  body: any,
  id: string,
  rec: RecordedRequest,
  text: string | undefined,
  steps: Step[],
  usage: Usage,
  cwd: string | undefined,
): void {
  const chatId = `chatcmpl-ckpt${id}`;
  const model = typeof body?.model === 'string' ? body.model : 'chat-test';
  const created = Math.floor(Date.now() / 1000);
  const calls = steps.map((step, i) => {
    const call = openCodeCall(step, cwd);
    const callId = `call_ckpt${id}_${i}`;
    rec.calls.push({ id: callId, name: call.name, input: call.input });
    return { id: callId, type: 'function' as const, function: { name: call.name, arguments: JSON.stringify(call.input) } };
  });
  const content = text !== undefined && text !== '' ? text : calls.length === 0 ? 'OK' : null;
  const finish = calls.length > 0 ? 'tool_calls' : 'stop';
  const inTok = usage.input_tokens ?? 0;
  const outTok = usage.output_tokens ?? 0;
  const u = { prompt_tokens: inTok, completion_tokens: outTok, total_tokens: inTok + outTok, prompt_tokens_details: { cached_tokens: usage.cache_read_input_tokens ?? 0 } };
  if (!body?.stream) {
    res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': `req_ckpt${id}` });
    const message: Record<string, unknown> = { role: 'assistant', content };
    if (calls.length > 0) message.tool_calls = calls;
    res.end(JSON.stringify({ id: chatId, object: 'chat.completion', created, model, choices: [{ index: 0, message, finish_reason: finish }], usage: u }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': `req_ckpt${id}` });
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): void => {
    res.write(`data: ${JSON.stringify({ id: chatId, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`);
  };
  chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
  if (content !== null) chunk([{ index: 0, delta: { content }, finish_reason: null }]);
  calls.forEach((c, index) => {
    // The name first with empty arguments, then the arguments in two pieces, as OpenAI streams them.
    chunk([{ index: 0, delta: { tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.function.name, arguments: '' } }] }, finish_reason: null }]);
    const args = c.function.arguments;
    const cut = Math.floor(args.length / 2);
    chunk([{ index: 0, delta: { tool_calls: [{ index, function: { arguments: args.slice(0, cut) } }] }, finish_reason: null }]);
    chunk([{ index: 0, delta: { tool_calls: [{ index, function: { arguments: args.slice(cut) } }] }, finish_reason: null }]);
  });
  chunk([{ index: 0, delta: {}, finish_reason: finish }]);
  if (body?.stream_options?.include_usage) chunk([], { usage: u });
  res.write('data: [DONE]\n\n');
  res.end();
}

// ------------------------------------------------------------ Gemini answer

function geminiCall(step: Step, cwd: string | undefined): { name: string; input: Record<string, unknown> } {
  if (step.write) return { name: 'write_file', input: { file_path: absPath(step.write.path, cwd), content: step.write.content } };
  if (step.edit) {
    const input: Record<string, unknown> = { file_path: absPath(step.edit.path, cwd), instruction: 'Apply the scripted edit.', old_string: step.edit.old, new_string: step.edit.new };
    if (step.edit.replaceAll) input.allow_multiple = true;
    return { name: 'replace', input };
  }
  if (step.delete !== undefined) return { name: 'run_shell_command', input: { command: `rm ${shq(step.delete)}`, description: `Delete ${step.delete}` } };
  if (step.read !== undefined) return { name: 'read_file', input: { file_path: absPath(step.read, cwd) } };
  if (step.bash !== undefined) return { name: 'run_shell_command', input: { command: step.bash, description: 'Run a scripted command' } };
  throw new Error(`model-server: empty step ${JSON.stringify(step)}`);
}

function answerGemini(
  res: http.ServerResponse,
  pathname: string,
  id: string,
  rec: RecordedRequest,
  text: string | undefined,
  steps: Step[],
  usage: Usage,
  cwd: string | undefined,
): void {
  const parts: any[] = [];
  if (text !== undefined && text !== '') parts.push({ text });
  steps.forEach((step, i) => {
    const call = geminiCall(step, cwd);
    const callId = `gem_ckpt${id}_${i}`;
    rec.calls.push({ id: callId, name: call.name, input: call.input });
    parts.push({ functionCall: { id: callId, name: call.name, args: call.input } });
  });
  if (parts.length === 0) parts.push({ text: 'OK' });
  const inTok = usage.input_tokens ?? 0;
  const outTok = usage.output_tokens ?? 0;
  const response = {
    candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: inTok, candidatesTokenCount: outTok, totalTokenCount: inTok + outTok, cachedContentTokenCount: usage.cache_read_input_tokens ?? 0 },
    modelVersion: rec.model ?? 'gemini-test',
    responseId: `gem_resp_ckpt${id}`,
  };
  if (!pathname.endsWith(':streamGenerateContent')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(response));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  // Text first, then the calls with the finish reason and usage, as the real API streams them.
  const textParts = parts.filter((p) => 'text' in p);
  const callParts = parts.filter((p) => !('text' in p));
  if (textParts.length > 0 && callParts.length > 0) {
    res.write(`data: ${JSON.stringify({ candidates: [{ content: { role: 'model', parts: textParts }, index: 0 }], modelVersion: response.modelVersion, responseId: response.responseId })}\r\n\r\n`);
    res.write(`data: ${JSON.stringify({ ...response, candidates: [{ ...response.candidates[0], content: { role: 'model', parts: callParts } }] })}\r\n\r\n`);
  } else {
    res.write(`data: ${JSON.stringify(response)}\r\n\r\n`);
  }
  res.end();
}
