/**
 * Built-in agent presets: how each agent CLI is run headless and
 * write-enabled, how the task reaches it, and where its token counts and
 * cost are in its output. Argv as in ../shared/notes/peers.md, checked against
 * the real CLIs (test/clients.test.ts, docs/agents.md).
 *
 * An argv template is a list of strings and optional groups: a group (an
 * inner array) is kept only when every placeholder in it has a value, so
 * `['--model', '{model}']` disappears when no model is given. Placeholders:
 * `{task}`, `{model}`, `{dir}` (the attempt's worktree), and for rounds
 * (race `--rounds`) `{round}` (1-based), `{feedback}` (the failed check's
 * output tail; absent in round 1) and, in a `resume` template, `{session}`
 * (the agent's own session id from its output). Each placeholder becomes part
 * of one argv element: no shell ever sees the task.
 */
/** Token counts as the agent reported them (its own JSON output). */
export interface Tokens {
  input: number;
  output: number;
  /** Cache reads/writes where reported (Claude). */
  cached?: number;
}

/** An argv template element: a string, or an optional group of strings. */
export type ArgTemplate = string | string[];

/** How to run one agent. */
export interface AgentPreset {
  /** Display name and default attempt name. */
  name: string;
  /** argv template; the first element is the program. */
  command: ArgTemplate[];
  /** Send the task on stdin instead of argv. */
  stdin: boolean;
  /** Extra environment. */
  env: Record<string, string>;
  /** Wall-clock limit (a duration such as `20m`), or null for the race default. */
  timeout: string | null;
  /** How to install it, for the "not installed" error. */
  install: string;
  /** Which output parser reads tokens and cost. */
  output: 'claude-json' | 'codex-jsonl' | 'gemini-jsonl' | 'opencode-jsonl' | 'none';
  /**
   * Hooks ckpt passes to the agent without touching the user's files: Claude
   * Code's `--settings` on the command line, Codex's `-c hooks.…` overrides
   * with `--dangerously-bypass-hook-trust` (ckpt's own attempt worktrees
   * only), Gemini CLI's system-defaults file named by
   * `GEMINI_CLI_SYSTEM_DEFAULTS_PATH`, OpenCode's plugin in
   * `OPENCODE_CONFIG_CONTENT` (race/plan.ts `agentArgv`, `agentHookEnv`).
   */
  hooks: 'claude' | 'codex' | 'gemini' | 'opencode' | null;
  /**
   * How a later round continues the agent's own session: an argv template with
   * `{session}` (the id its output reported, see {@link ParsedOutput.sessionId})
   * and `{task}` (the follow-up prompt). Null: a later round runs `command`
   * again with the follow-up prompt as its task.
   */
  resume: ArgTemplate[] | null;
}

const base = { stdin: false, env: {}, timeout: null, hooks: null, resume: null } as const;

/**
 * The presets. The task goes after `--` (end of options) or as `--flag=TASK`
 * so a task beginning with `-` is never read as an option.
 */
export const PRESETS: Record<string, AgentPreset> = {
  claude: {
    ...base,
    name: 'claude',
    // -p prints and exits; acceptEdits + allowedTools let it write without
    // prompts (--dangerously-skip-permissions is refused when run as root).
    command: ['claude', '-p', '--output-format', 'json', '--permission-mode', 'acceptEdits', '--allowedTools', 'Bash Write Edit MultiEdit', ['--model', '{model}'], '--', '{task}'],
    // `--resume <session_id>` (the `session_id` of its JSON result) continues that conversation.
    resume: ['claude', '-p', '--output-format', 'json', '--permission-mode', 'acceptEdits', '--allowedTools', 'Bash Write Edit MultiEdit', ['--model', '{model}'], '--resume', '{session}', '--', '{task}'],
    install: 'npm install -g @anthropic-ai/claude-code',
    output: 'claude-json',
    hooks: 'claude',
  },
  codex: {
    ...base,
    name: 'codex',
    command: ['codex', 'exec', '--json', '--sandbox', 'workspace-write', ['-m', '{model}'], '-C', '{dir}', '--skip-git-repo-check', '--', '{task}'],
    // `codex exec resume [OPTIONS] SESSION_ID PROMPT` (the `thread_id` of its `thread.started`
    // event). It has no --sandbox nor -C: the sandbox is set through -c, and it runs in its cwd.
    resume: ['codex', 'exec', 'resume', '--json', '-c', 'sandbox_mode="workspace-write"', ['-m', '{model}'], '--skip-git-repo-check', '--', '{session}', '{task}'],
    install: 'npm install -g @openai/codex',
    output: 'codex-jsonl',
    hooks: 'codex',
  },
  gemini: {
    ...base,
    name: 'gemini',
    command: ['gemini', '--prompt={task}', '--approval-mode=yolo', '--output-format', 'stream-json', ['-m', '{model}']],
    // `--resume <session_id>` (the `session_id` of its stream-json `init` event; 0.61.0's
    // resolveSession takes a full id, `latest` or an index) continues that session, whose
    // file lives in Gemini's temp dir for the attempt's directory.
    resume: ['gemini', '--resume={session}', '--prompt={task}', '--approval-mode=yolo', '--output-format', 'stream-json', ['-m', '{model}']],
    // An attempt's worktree is a folder Gemini CLI has never seen: untrusted, so
    // headless runs stop with "not running in a trusted directory" (exit 55) and
    // yolo falls back to "default". Trust it for this run only (same as
    // --skip-trust, which older versions reject as an unknown argument).
    env: { GEMINI_CLI_TRUST_WORKSPACE: 'true' },
    install: 'npm install -g @google/gemini-cli',
    output: 'gemini-jsonl',
    hooks: 'gemini',
  },
  aider: {
    ...base,
    name: 'aider',
    command: ['aider', '--message={task}', '--yes-always', '--no-auto-commits', ['--model', '{model}']],
    install: 'pipx install aider-chat (or: python -m pip install aider-install && aider-install)',
    output: 'none',
  },
  opencode: {
    ...base,
    name: 'opencode',
    // `run` works in $PWD (which ckpt sets to the attempt's worktree, agents/process.ts).
    command: ['opencode', 'run', ['--model', '{model}'], '--format', 'json', '--', '{task}'],
    // `run --session <sessionID>` (the `sessionID` of every JSON line) continues that session (opencode-ai 1.18.33).
    resume: ['opencode', 'run', ['--model', '{model}'], '--session', '{session}', '--format', 'json', '--', '{task}'],
    install: 'npm install -g opencode-ai',
    output: 'opencode-jsonl',
    hooks: 'opencode',
  },
  'cursor-agent': {
    ...base,
    name: 'cursor-agent',
    command: ['cursor-agent', '-p', '--output-format', 'stream-json', '--force', ['--model', '{model}'], '--', '{task}'],
    install: 'curl https://cursor.com/install -fsS | bash',
    output: 'none',
  },
};

/** The placeholders of an argv template. */
export type Placeholder = 'task' | 'model' | 'dir' | 'round' | 'feedback' | 'session';
const PLACEHOLDER = /\{(task|model|dir|round|feedback|session)\}/g;

/**
 * Expands a template: placeholders replaced inside single elements, optional
 * groups dropped when a placeholder in them has no value.
 */
export function expandArgv(template: ArgTemplate[], values: Partial<Record<Placeholder, string | null>>): string[] {
  const fill = (s: string): string | null => {
    let missing = false;
    const out = s.replace(PLACEHOLDER, (_, k: Placeholder) => {
      const v = values[k];
      if (v === null || v === undefined) {
        missing = true;
        return '';
      }
      return v;
    });
    return missing ? null : out;
  };
  const argv: string[] = [];
  for (const el of template) {
    if (Array.isArray(el)) {
      const filled = el.map(fill);
      if (filled.every((x): x is string => x !== null)) argv.push(...filled);
    } else {
      const f = fill(el);
      if (f !== null) argv.push(f);
      else if (!/\{(model|feedback|session)\}/.test(el)) argv.push(el.replace(PLACEHOLDER, ''));
    }
  }
  return argv;
}

/** Tokens, cost and closing message read from an agent's output. */
export interface ParsedOutput {
  tokens: Tokens | null;
  costUsd: number | null;
  resultText: string | null;
  /** The agent reported an error in its JSON (e.g. Claude's `is_error`). */
  isError: boolean;
  /** Its own session id, for resuming it (Claude's `session_id`, Codex's `thread_id`, Gemini's `init` `session_id`), or null. */
  sessionId: string | null;
}

/**
 * Reads tokens, cost and the closing message from the end of an agent's
 * stdout (the last ~1 MiB is enough: every format puts them at the end).
 * - claude (`--output-format json`): one object with `total_cost_usd`,
 *   `usage.{input,output,cache_read_input,cache_creation_input}_tokens`,
 *   `result`, `is_error`.
 * - codex (`exec --json`): JSON lines; `turn.completed` carries `usage`
 *   (summed over turns); `turn.failed` / `error` carry the message.
 * - gemini (`stream-json`): JSON lines; the `result` line carries `stats`,
 *   and `status: "error"` with `error.message` when the run failed; the
 *   `init` line carries `session_id`.
 * - opencode (`run --format json`, 1.18.33): JSON lines, each with `sessionID`;
 *   every `step_finish` part carries `tokens {input, output, cache {read,
 *   write}}` and `cost` (summed), `text` parts the answer, an `error` line
 *   `error {name, data {message}}` when the run failed.
 */
export function parseOutput(kind: AgentPreset['output'], stdoutTail: string): ParsedOutput {
  const empty: ParsedOutput = { tokens: null, costUsd: null, resultText: null, isError: false, sessionId: null };
  if (kind === 'none') return empty;
  const objects: Record<string, unknown>[] = [];
  for (const line of stdoutTail.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      objects.push(JSON.parse(t) as Record<string, unknown>);
    } catch {
      // not JSON
    }
  }
  if (objects.length === 0 && kind === 'claude-json') {
    // pretty-printed or single object spanning lines
    const start = stdoutTail.lastIndexOf('\n{');
    try {
      objects.push(JSON.parse(stdoutTail.slice(start + 1)) as Record<string, unknown>);
    } catch {
      return empty;
    }
  }
  const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  if (kind === 'claude-json') {
    const r = [...objects].reverse().find((o) => o.type === 'result' || 'total_cost_usd' in o);
    if (!r) return empty;
    const u = (r.usage ?? {}) as Record<string, unknown>;
    const cached = num(u.cache_read_input_tokens) + num(u.cache_creation_input_tokens);
    return {
      tokens: { input: num(u.input_tokens), output: num(u.output_tokens), ...(cached ? { cached } : {}) },
      costUsd: typeof r.total_cost_usd === 'number' ? r.total_cost_usd : null,
      resultText: typeof r.result === 'string' ? r.result : null,
      isError: r.is_error === true,
      sessionId: typeof r.session_id === 'string' && r.session_id ? r.session_id : null,
    };
  }
  if (kind === 'codex-jsonl') {
    let input = 0;
    let output = 0;
    let cached = 0;
    let seen = false;
    let text: string | null = null;
    let isError = false;
    let sessionId: string | null = null;
    for (const o of objects) {
      if (o.type === 'thread.started' && typeof o.thread_id === 'string' && o.thread_id) sessionId = o.thread_id;
      if (o.type === 'turn.completed' && o.usage) {
        const u = o.usage as Record<string, unknown>;
        input += num(u.input_tokens);
        output += num(u.output_tokens);
        cached += num(u.cached_input_tokens);
        seen = true;
      } else if (o.type === 'turn.failed' || o.type === 'error') {
        if (o.type === 'turn.failed') isError = true; // a bare `error` may be a retry notice ("Reconnecting... 1/5") in a run that then succeeds
        const e = (o.error ?? o) as Record<string, unknown>;
        if (typeof e.message === 'string') text = e.message;
      } else if (o.type === 'item.completed') {
        const item = o.item as Record<string, unknown> | undefined;
        if (item && (item.type === 'agent_message' || item.item_type === 'assistant_message') && typeof item.text === 'string') text = item.text;
      }
    }
    return { tokens: seen ? { input, output, ...(cached ? { cached } : {}) } : null, costUsd: null, resultText: text, isError, sessionId };
  }
  if (kind === 'opencode-jsonl') {
    let input = 0;
    let output = 0;
    let cached = 0;
    let cost: number | null = null;
    let seen = false;
    let text: string | null = null;
    let isError = false;
    let sessionId: string | null = null;
    for (const o of objects) {
      if (!sessionId && typeof o.sessionID === 'string' && o.sessionID) sessionId = o.sessionID;
      const part = (o.part ?? {}) as Record<string, unknown>;
      if (o.type === 'step_finish' && part.tokens && typeof part.tokens === 'object') {
        const t = part.tokens as Record<string, unknown>;
        input += num(t.input);
        output += num(t.output);
        cached += num((t.cache as Record<string, unknown> | undefined)?.read);
        if (typeof part.cost === 'number' && Number.isFinite(part.cost)) cost = (cost ?? 0) + part.cost;
        seen = true;
      } else if (o.type === 'text' && typeof part.text === 'string') {
        text = part.text;
      } else if (o.type === 'error') {
        isError = true;
        const e = (o.error ?? {}) as Record<string, unknown>;
        const data = (e.data ?? {}) as Record<string, unknown>;
        const message = typeof data.message === 'string' ? data.message : typeof e.message === 'string' ? e.message : typeof e.name === 'string' ? e.name : null;
        if (message) text = message;
      }
    }
    return { tokens: seen ? { input, output, ...(cached ? { cached } : {}) } : null, costUsd: cost, resultText: text, isError, sessionId };
  }
  // gemini stream-json
  let tokens: Tokens | null = null;
  let text: string | null = null;
  let isError = false;
  let sessionId: string | null = null;
  for (const o of objects) {
    if (o.type === 'init' && typeof o.session_id === 'string' && o.session_id) sessionId = o.session_id;
    const stats = (o.stats ?? o.usage) as Record<string, unknown> | undefined;
    if (stats && typeof stats === 'object') {
      tokens = { input: num(stats.input_tokens ?? stats.inputTokens ?? stats.promptTokenCount), output: num(stats.output_tokens ?? stats.outputTokens ?? stats.candidatesTokenCount) };
    }
    // The closing `result` line has `status: "success" | "error"` and, on error, `error.message`.
    if (o.type === 'error' || (o.type === 'result' && o.status === 'error')) {
      isError = true;
      const e = (o.error ?? o) as Record<string, unknown>;
      if (typeof e.message === 'string' && e.message) text = e.message;
      continue;
    }
    if (o.type === 'message' && typeof o.content === 'string' && o.role === 'assistant') text = (text ?? '') + o.content;
  }
  return { tokens, costUsd: null, resultText: text, isError, sessionId };
}
