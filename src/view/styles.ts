/** The viewer's stylesheet: light and dark themes through CSS variables, highlight.js token colours included. */
export const STYLES = `
:root{--bg:#fff;--fg:#1f2328;--muted:#656d76;--border:#d0d7de;--panel:#f6f8fa;--accent:#0969da;
--add-bg:#dafbe1;--add-word:#aceebb;--add-fg:#116329;--del-bg:#ffebe9;--del-fg:#a40e26;--same:#8250df;--warn:#9a6700;--warn-bg:#fff8c5;
--ctx-bg:#fff;--gap-bg:#f6f8fa;--sel:#ddf4ff;--ok:#1a7f37;--bad:#cf222e;
--k:#cf222e;--s:#0a3069;--c:#6e7781;--n:#0550ae;--t:#8250df;--b:#953800;--v:#953800}
[data-theme=dark]{--bg:#0d1117;--fg:#e6edf3;--muted:#8d96a0;--border:#30363d;--panel:#161b22;--accent:#4493f8;
--add-bg:#12261e;--add-word:#2ea04366;--add-fg:#3fb950;--del-bg:#25171c;--del-fg:#f85149;--same:#bc8cff;--warn:#d29922;--warn-bg:#2e2612;
--ctx-bg:#0d1117;--gap-bg:#161b22;--sel:#1f3049;--ok:#3fb950;--bad:#f85149;
--k:#ff7b72;--s:#a5d6ff;--c:#8b949e;--n:#79c0ff;--t:#d2a8ff;--b:#ffa657;--v:#ffa657}
*{box-sizing:border-box}
html,body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif}
code,.code,.mono,pre{font-family:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,"Liberation Mono",monospace;font-size:12px}
button{font:inherit;color:var(--fg);background:var(--panel);border:1px solid var(--border);border-radius:6px;padding:2px 10px;cursor:pointer}
button:hover:not(:disabled){border-color:var(--accent)}
button:disabled{opacity:.5;cursor:not-allowed}
button.primary{background:var(--accent);color:#fff;border-color:var(--accent)}
a{color:var(--accent)}
.loading{padding:2em;color:var(--muted)}
header.top{position:sticky;top:0;z-index:5;background:var(--bg);border-bottom:1px solid var(--border);padding:8px 16px;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header.top h1{font-size:16px;margin:0}
header.top .spacer{flex:1}
header.top label{margin-right:8px;white-space:nowrap}
.keys{color:var(--muted);font-size:12px}
.keys kbd{border:1px solid var(--border);border-bottom-width:2px;border-radius:4px;padding:0 4px;font-size:11px;background:var(--panel)}
.layout{display:grid;grid-template-columns:280px minmax(0,1fr)}
nav.files{position:sticky;top:49px;height:calc(100vh - 49px);overflow:auto;border-right:1px solid var(--border);padding:8px 0;background:var(--panel)}
nav.files a{display:flex;gap:6px;align-items:baseline;padding:2px 12px;color:var(--fg);text-decoration:none;font-size:12px;white-space:nowrap}
nav.files a .p{overflow:hidden;text-overflow:ellipsis;flex:1;direction:rtl;text-align:left}
nav.files a.current{background:var(--sel)}
nav.files a:hover{background:var(--sel)}
nav.files h3{font-size:12px;margin:8px 12px 4px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
main{padding:12px 16px 40vh;min-width:0}
.task{white-space:pre-wrap;margin:4px 0 8px;font-size:15px}
.meta{color:var(--muted);font-size:12px;margin-bottom:8px}
table.summary{border-collapse:collapse;margin:8px 0 12px;font-size:13px}
table.summary th,table.summary td{border-bottom:1px solid var(--border);padding:4px 10px;text-align:left;white-space:nowrap}
table.summary td.num{text-align:right;font-variant-numeric:tabular-nums}
table.summary tr.hidden-attempt{opacity:.45}
.badge{display:inline-block;border-radius:10px;padding:0 7px;font-size:11px;line-height:18px;border:1px solid var(--border);white-space:nowrap}
.badge.same{color:var(--same);border-color:var(--same)}
.badge.only{color:var(--warn);border-color:var(--warn)}
.badge.differ{color:var(--bad);border-color:var(--bad)}
.badge.ok{color:var(--ok);border-color:var(--ok)}
.badge.bad{color:var(--bad);border-color:var(--bad)}
.badge.best{color:var(--accent);border-color:var(--accent)}
.st{font-family:ui-monospace,monospace;font-weight:600;font-size:11px}
.st.A{color:var(--ok)}.st.D{color:var(--bad)}.st.M{color:var(--warn)}.st.T{color:var(--same)}.st.none{color:var(--muted)}
.agents{padding:4px 16px;border-bottom:1px solid var(--border);display:flex;gap:14px;flex-wrap:wrap;align-items:baseline;font-size:12px}
.agents .agent.waiting{background:var(--warn-bg);color:var(--warn);border-radius:4px;padding:0 6px;font-weight:600}
.agents .agent.stale .state{color:var(--bad)}
.agents .agent.running .state{color:var(--accent)}
.notice{border:1px solid var(--border);border-radius:6px;padding:8px 12px;margin:8px 0;background:var(--panel)}
.notice.ok{border-color:var(--ok)}.notice.bad{border-color:var(--bad)}
.notice pre{margin:4px 0 0;white-space:pre-wrap}
section.file{border:1px solid var(--border);border-radius:6px;margin:0 0 16px;scroll-margin-top:60px}
section.file.current{box-shadow:0 0 0 2px var(--accent)}
section.file>h2{margin:0;font-size:13px;padding:6px 10px;background:var(--panel);border-bottom:1px solid var(--border);display:flex;gap:8px;align-items:center;flex-wrap:wrap;position:sticky;top:49px;z-index:2}
section.file>h2 .path{font-family:ui-monospace,monospace;font-weight:600}
.fbody{overflow-x:auto}
.placeholder{color:var(--muted);padding:10px}
table.grid{border-collapse:collapse;width:100%;table-layout:fixed}
table.grid th{font-size:12px;text-align:left;padding:3px 8px;border-bottom:1px solid var(--border);background:var(--panel);font-weight:600}
table.grid td{vertical-align:top;padding:0;border-left:1px solid var(--border)}
table.grid td:first-child{border-left:0}
tr.ctx td,tr.gap td{background:var(--ctx-bg)}
tr.gap td{background:var(--gap-bg);color:var(--muted);text-align:center;font-size:11px;padding:1px}
tr.hh td{background:var(--panel);color:var(--muted);font-size:12px;padding:3px 8px;border-top:1px solid var(--border);border-bottom:1px solid var(--border)}
tr.hh.dis td{background:var(--warn-bg)}
tr.hh.flash td{outline:2px solid var(--accent);outline-offset:-2px}
.l{display:flex;white-space:pre-wrap;word-break:break-all;min-height:18px;line-height:18px}
.l .n{flex:0 0 44px;text-align:right;padding-right:8px;color:var(--muted);user-select:none}
.l .c{flex:1;padding-right:8px}
.l.add{background:var(--add-bg)}.l.add .n{color:var(--add-fg)}
.l.add .w{background:var(--add-word);border-radius:2px}
.l.del{background:var(--del-bg)}.l.del .n{color:var(--del-fg)}
.l .eol{color:var(--muted);font-size:10px}
.cellnote{padding:2px 8px;color:var(--muted);font-size:12px;font-style:italic}
td.acell{position:relative}
.cellhead{position:absolute;top:1px;right:4px;z-index:1;font-size:11px;background:var(--bg);border-radius:10px}
.whole{padding:8px 12px}
.panel{position:fixed;top:0;right:0;bottom:0;width:min(760px,92vw);background:var(--bg);border-left:1px solid var(--border);box-shadow:-4px 0 16px rgba(0,0,0,.2);z-index:10;display:flex;flex-direction:column}
.panel header{display:flex;align-items:center;gap:8px;padding:8px 12px;border-bottom:1px solid var(--border)}
.panel header h2{margin:0;font-size:15px;flex:1}
.panel .pbody{overflow:auto;padding:8px 12px;flex:1}
ol.steps{list-style:none;margin:0;padding:0}
section.round{margin:0 0 8px}
.roundhead{padding:6px 6px 4px;border-bottom:2px solid var(--border);background:var(--panel);position:sticky;top:0}
.badge.warn{color:var(--warn);border-color:var(--warn)}
td.rounds,td.reviews{white-space:nowrap;font-size:12px}
.judge{margin:6px 0;font-size:13px}
.judge .judged{font-family:ui-monospace,monospace}
ol.steps li{padding:4px 6px;border-bottom:1px solid var(--border);cursor:pointer;display:flex;gap:8px;align-items:baseline}
ol.steps li:hover,ol.steps li.sel{background:var(--sel)}
ol.steps .sn{font-variant-numeric:tabular-nums;color:var(--muted);min-width:2.5em;text-align:right}
ul.tree{list-style:none;margin:4px 0;padding:0;font-size:12px}
ul.tree li{padding:1px 4px;cursor:pointer;font-family:ui-monospace,monospace}
ul.tree li:hover{background:var(--sel)}
pre.blob{border:1px solid var(--border);border-radius:6px;padding:0;margin:8px 0;overflow:auto}
.modal-bg{position:fixed;inset:0;background:rgba(0,0,0,.45);z-index:20;display:flex;align-items:center;justify-content:center}
.modal{background:var(--bg);border:1px solid var(--border);border-radius:8px;padding:16px 20px;max-width:560px}
.modal h2{margin-top:0;font-size:16px}
.modal .actions{display:flex;gap:8px;justify-content:flex-end;margin-top:12px}
.worktree-layout{display:grid;grid-template-columns:340px minmax(0,1fr)}
.hljs-keyword,.hljs-selector-tag,.hljs-meta .hljs-keyword,.hljs-doctag,.hljs-template-tag{color:var(--k)}
.hljs-string,.hljs-regexp,.hljs-meta .hljs-string,.hljs-attr .hljs-string{color:var(--s)}
.hljs-comment,.hljs-quote{color:var(--c);font-style:italic}
.hljs-number,.hljs-literal,.hljs-symbol,.hljs-bullet,.hljs-attr,.hljs-attribute,.hljs-selector-id,.hljs-selector-class,.hljs-variable.language_{color:var(--n)}
.hljs-title,.hljs-title.function_,.hljs-title.class_,.hljs-section,.hljs-name,.hljs-tag{color:var(--t)}
.hljs-built_in,.hljs-type,.hljs-params,.hljs-property{color:var(--b)}
.hljs-variable,.hljs-template-variable{color:var(--v)}
.hljs-emphasis{font-style:italic}.hljs-strong{font-weight:600}
`;
