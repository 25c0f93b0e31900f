/**
 * The dashboard's page and style sheet, as strings the binary carries (routes/ui.ts serves them).
 * The page is a shell: routes/ui/client.ts fills it from the admin API.
 */

export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<title>gateway</title>
<link rel="stylesheet" href="/_gateway/ui/assets/style.css">
<script type="module" src="/_gateway/ui/assets/client.js"></script>
</head>
<body>
<header class="top">
  <h1><a href="/_gateway/ui">gateway</a></h1>
  <p class="summary" id="summary" aria-live="polite">Loading…</p>
  <p class="stream" id="stream" role="status">connecting…</p>
  <nav aria-label="Gateway">
    <a href="/docs">API reference</a>
    <a href="/openapi.json">OpenAPI</a>
    <a href="/metrics">Metrics</a>
    <button type="button" id="token-button">Admin token</button>
  </nav>
</header>
<main>
  <section id="problems" class="problems" hidden aria-labelledby="problems-title">
    <h2 id="problems-title">Did not load</h2>
    <ul id="problem-list"></ul>
  </section>
  <section aria-labelledby="providers-title">
    <h2 id="providers-title">Providers</h2>
    <div class="legend" aria-hidden="true"><span>status</span><span>provider</span><span>traffic (last 5 min)</span></div>
    <div id="providers" class="providers"></div>
  </section>
  <section aria-labelledby="timeline-title">
    <h2 id="timeline-title">Start-up timeline</h2>
    <p class="hint">From spawn to ready, for each provider's last start.</p>
    <div id="timeline" class="timeline"></div>
  </section>
</main>
<dialog id="token-dialog">
  <form method="dialog" id="token-form">
    <h2>Admin token</h2>
    <p id="token-why">Starting, stopping and restarting providers needs the gateway's admin token.</p>
    <label>Token <input type="password" id="token-input" autocomplete="off" required></label>
    <p class="hint">Kept in this tab's session storage only.</p>
    <p class="error" id="token-error" role="alert"></p>
    <menu><button type="button" id="token-cancel">Cancel</button> <button value="ok" id="token-ok">Use it</button></menu>
  </form>
</dialog>
</body>
</html>
`;

export const STYLE = `
:root {
  color-scheme: light dark;
  --bg: #fbfbfc; --fg: #1d1f23; --muted: #5d636e; --line: #dfe2e7; --card: #ffffff;
  --accent: #2457c5; --ok: #1f7a3a; --warn: #9a6100; --bad: #b3261e; --idle: #6b7280;
  --code: #f1f3f6; --focus: #2457c5;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #111317; --fg: #e6e8eb; --muted: #a0a7b3; --line: #2c3038; --card: #181b21;
    --accent: #8ab4ff; --ok: #5fd08a; --warn: #f0b450; --bad: #ff8a80; --idle: #9aa1ad;
    --code: #0c0e11; --focus: #8ab4ff;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
:focus-visible { outline: 2px solid var(--focus); outline-offset: 2px; }
button { font: inherit; color: inherit; background: var(--card); border: 1px solid var(--line);
  border-radius: 6px; padding: 0.3em 0.8em; cursor: pointer; }
button:disabled { opacity: 0.55; cursor: not-allowed; }
button.busy { cursor: progress; }
.top { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5em 1.2em; padding: 0.8em 1.2em;
  border-bottom: 1px solid var(--line); background: var(--card); position: sticky; top: 0; z-index: 2; }
.top h1 { font-size: 1.2em; margin: 0; }
.top h1 a { color: inherit; text-decoration: none; }
.top p { margin: 0; }
.top nav { margin-left: auto; display: flex; flex-wrap: wrap; gap: 0.4em 1em; align-items: center; }
.stream { color: var(--muted); font-size: 0.9em; }
.stream.down { color: var(--bad); font-weight: 600; }
main { padding: 0 1.2em 3em; max-width: 1200px; margin: 0 auto; }
h2 { font-size: 1.05em; margin: 1.4em 0 0.6em; }
.hint { color: var(--muted); font-size: 0.9em; margin: 0.2em 0 0.6em; }
.problems { border: 1px solid var(--bad); border-radius: 8px; padding: 0 1em 0.6em; margin-top: 1em; }
.problems li { margin: 0.3em 0; }
.problems code { background: var(--code); padding: 0 0.3em; border-radius: 4px; }
.legend { display: none; }
.providers { display: grid; gap: 0.5em; }
details.provider { background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
details.provider > summary { list-style: none; cursor: pointer; padding: 0.6em 0.8em;
  display: grid; grid-template-columns: 8.5em minmax(10em, 1.4fr) minmax(9em, 1fr) 13em; gap: 0.3em 1em;
  align-items: center; }
details.provider > summary::-webkit-details-marker { display: none; }
.pill { display: inline-flex; align-items: center; gap: 0.4em; font-weight: 600; }
.pill::before { content: ""; width: 0.7em; height: 0.7em; border-radius: 50%; background: currentColor; flex: none; }
.s-ready { color: var(--ok); }
.s-starting, .s-restarting, .s-awaiting_agent { color: var(--warn); }
.s-failed, .s-unhealthy { color: var(--bad); }
.s-stopped, .s-disabled { color: var(--idle); }
.since { display: block; font-weight: normal; color: var(--muted); font-size: 0.85em; }
.who strong { display: block; }
.who .meta, .facts { color: var(--muted); font-size: 0.88em; }
.who code, .facts code { font-size: 0.95em; }
.traffic { font-variant-numeric: tabular-nums; font-size: 0.85em; min-width: 0; }
.traffic .stats { display: block; }
.traffic .bad { color: var(--bad); font-weight: 600; }
svg.spark { width: 100%; height: 2.2em; display: block; }
svg.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
svg.spark .base { stroke: var(--line); }
.panel { border-top: 1px solid var(--line); padding: 0.8em; display: grid; gap: 0.9em; }
.why { border-left: 4px solid var(--bad); background: color-mix(in srgb, var(--bad) 8%, transparent);
  padding: 0.5em 0.8em; border-radius: 4px; }
.why h3, .panel h3 { margin: 0 0 0.3em; font-size: 0.95em; }
.why dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 0.8em; margin: 0; }
.why dt { color: var(--muted); }
.why dd { margin: 0; overflow-wrap: anywhere; }
pre { margin: 0; background: var(--code); padding: 0.5em; border-radius: 6px; overflow: auto;
  font: 12.5px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.changes { margin: 0; padding: 0; list-style: none; font-size: 0.88em; }
.changes time { color: var(--muted); font-variant-numeric: tabular-nums; }
.controls { display: flex; flex-wrap: wrap; gap: 0.5em; align-items: center; }
.controls .feedback { color: var(--muted); font-size: 0.9em; }
.controls .feedback.error { color: var(--bad); }
.links { display: flex; flex-wrap: wrap; gap: 1em; font-size: 0.92em; }
.logs .bar { display: flex; flex-wrap: wrap; gap: 0.5em; align-items: center; margin-bottom: 0.4em; }
.logs input[type=search] { font: inherit; padding: 0.25em 0.5em; border: 1px solid var(--line);
  border-radius: 6px; background: var(--bg); color: inherit; min-width: 10em; flex: 1; }
.logs pre { max-height: 22em; }
.logs .line { display: block; white-space: pre-wrap; overflow-wrap: anywhere; }
.logs .tag { color: var(--muted); user-select: none; }
.logs .stderr .tag { color: var(--bad); }
.logs .gateway .tag { color: var(--accent); }
.logs mark { background: #ffe066; color: #000; }
.a-bold { font-weight: 700; } .a-dim { opacity: 0.7; } .a-italic { font-style: italic; } .a-underline { text-decoration: underline; }
.a-30 { color: #555; } .a-31 { color: #d33; } .a-32 { color: #2a2; } .a-33 { color: #b80; }
.a-34 { color: #36c; } .a-35 { color: #b3b; } .a-36 { color: #199; } .a-37 { color: #999; }
.a-90 { color: #777; } .a-91 { color: #f55; } .a-92 { color: #4c4; } .a-93 { color: #db3; }
.a-94 { color: #58f; } .a-95 { color: #d6d; } .a-96 { color: #3cc; } .a-97 { color: #ccc; }
.element-host { border: 1px dashed var(--line); border-radius: 6px; padding: 0.6em; min-height: 3em; }
.element-host .error, .error { color: var(--bad); }
.timeline { display: grid; gap: 0.25em; }
.timeline .row { display: grid; grid-template-columns: 9em 1fr 5em; gap: 0.6em; align-items: center; font-size: 0.9em; }
.timeline .track { position: relative; height: 0.9em; background: var(--code); border-radius: 3px; }
.timeline .bar { position: absolute; top: 0; bottom: 0; background: var(--accent); border-radius: 3px; min-width: 2px; }
.timeline .ms { text-align: right; font-variant-numeric: tabular-nums; color: var(--muted); }
dialog { border: 1px solid var(--line); border-radius: 10px; background: var(--card); color: var(--fg); max-width: 26em; }
dialog input { font: inherit; width: 100%; padding: 0.3em; margin-top: 0.2em; }
dialog menu { display: flex; justify-content: flex-end; gap: 0.5em; padding: 0; }
@media (max-width: 760px) {
  .top nav { margin-left: 0; }
  details.provider > summary { grid-template-columns: 1fr 1fr; }
  details.provider > summary .traffic, details.provider > summary .facts { grid-column: 1 / -1; }
  svg.spark { width: 100%; }
  main { padding: 0 0.6em 2em; }
  .timeline .row { grid-template-columns: 6em 1fr 4em; }
}
`;
