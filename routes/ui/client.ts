/**
 * The dashboard's browser code. {@link dashboardClient} is served as its own source text
 * (`(function …)()`, routes/ui.ts), so it must stay self-contained: no module-level values and
 * no imports but type-only ones (erased), only the DOM. Type-checked and linted with the rest of the project, no bundler needed.
 *
 * What it does: one row per provider (status, process, health, traffic with a sparkline), the
 * manifests that did not load, live updates from one EventSource (`/_gateway/events`, resumed by
 * the browser with Last-Event-ID), "why is it down?" for a provider that is not ready, its logs,
 * start/stop/restart, its UI element, and a start-up timeline. Untrusted text (names, log lines,
 * reasons) only ever becomes text nodes.
 */
import type { z } from "zod";
import type { TrafficSample } from "../../lib/metrics/history.ts";
import type { ProviderView } from "../../lib/supervisor/status.ts";
import type { AccessSchema, LogsSchema } from "../schemas.ts";

export function dashboardClient(): void {
  // The shapes of the admin API's answers: type-only, so nothing is imported at run time.
  type Provider = ProviderView;
  type Sample = TrafficSample;
  type Access = z.infer<typeof AccessSchema>;
  type LogLine = z.infer<typeof LogsSchema>["lines"][number];
  interface Row {
    details: HTMLDetailsElement;
    summary: HTMLElement;
    panel: HTMLElement;
    why: HTMLElement;
    controls: HTMLElement;
    feedback: HTMLElement;
    logs: LogView;
    elementHost: HTMLElement;
    changes: HTMLElement;
  }
  interface LogView {
    root: HTMLElement;
    pre: HTMLElement;
    search: HTMLInputElement;
    follow: HTMLInputElement;
    lines: LogLine[];
    /** While following: the provider's log stream. */
    source: EventSource | null;
    /** A redraw is due (lines come faster than frames). */
    drawing: boolean;
  }
  type ElementState = { state: "loading" | "defined" | "error"; error?: string; mounted?: boolean };

  const TOKEN_KEY = "gateway-admin-token";
  const ELEMENT_TIMEOUT_MS = 8_000;
  const providers = new Map<string, Provider>();
  const rows = new Map<string, Row>();
  const elementStates = new Map<string, ElementState>();
  /** Each provider's status changes seen on the stream, newest last (at most CHANGES_KEPT). */
  const changes = new Map<
    string,
    Array<{ id: string; from: string; to: string; reason: string; time: string }>
  >();
  const CHANGES_KEPT = 12;
  let traffic: Record<string, Sample[]> = {};
  let access: Access = { token_required: false, token_accepted: null, allowed: true, reason: null };

  // ---- small DOM helpers ----------------------------------------------------------------------

  type Child = Node | string | null | undefined | false;
  function h<K extends keyof HTMLElementTagNameMap>(
    tag: K,
    props: Record<string, string | boolean | undefined> = {},
    ...children: Child[]
  ): HTMLElementTagNameMap[K] {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }
  const byId = (id: string) => document.getElementById(id)!;
  const token = () => sessionStorage.getItem(TOKEN_KEY);
  const authHeaders = (): Record<string, string> => {
    const t = token();
    return t ? { authorization: `Bearer ${t}` } : {};
  };
  async function getJson<T>(path: string, withToken = false): Promise<T> {
    const response = await fetch(path, { headers: withToken ? authHeaders() : {} });
    if (!response.ok) throw new Error(`GET ${path} answered ${response.status}`);
    return (await response.json()) as T;
  }

  function ago(iso: string | null): string {
    if (!iso) return "";
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (seconds < 60) return `${seconds} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
    return `${Math.floor(seconds / 86400)} d`;
  }
  const exitText = (exit: Provider["last_exit"]) =>
    !exit ? "none yet" : exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
  const probeText = (probe: Provider["last_probe"]) =>
    !probe
      ? "not probed yet"
      : probe.ok
        ? `healthy in ${probe.latency_ms} ms`
        : `${probe.detail ?? "failed"} (${probe.latency_ms} ms)`;

  // ---- rows -----------------------------------------------------------------------------------

  function sparkline(samples: Sample[]): SVGSVGElement {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("viewBox", "0 0 100 24");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    const base = document.createElementNS(ns, "line");
    for (const [k, v] of [
      ["x1", "0"],
      ["y1", "23"],
      ["x2", "100"],
      ["y2", "23"],
      ["class", "base"],
    ])
      base.setAttribute(k!, v!);
    svg.append(base);
    const max = Math.max(1, ...samples.map((s) => s.rps));
    if (samples.length > 1) {
      const line = document.createElementNS(ns, "polyline");
      const step = 100 / (samples.length - 1);
      line.setAttribute(
        "points",
        samples.map((s, i) => `${(i * step).toFixed(1)},${(22 - (s.rps / max) * 20).toFixed(1)}`).join(" "),
      );
      svg.append(line);
    }
    const title = document.createElementNS(ns, "title");
    title.textContent = `requests per second, last ${samples.length} samples, peak ${max}`;
    svg.append(title);
    svg.setAttribute("aria-label", title.textContent);
    return svg;
  }

  function renderSummary(p: Provider, summary: HTMLElement): void {
    const samples = traffic[p.code] ?? [];
    const recent = samples.slice(-12); // the last minute
    const rps = recent.length ? recent.reduce((n, s) => n + s.rps, 0) / recent.length : 0;
    const errors = recent.length ? Math.max(...recent.map((s) => s.error_rate)) : 0;
    const p95 = recent.map((s) => s.p95_ms).filter((v): v is number => v !== null);
    summary.replaceChildren(
      h(
        "span",
        { class: `pill s-${p.status}`, "data-status": p.status },
        p.status.replace("_", " "),
        h("span", { class: "since", text: p.status_since ? `for ${ago(p.status_since)}` : "" }),
      ),
      h(
        "span",
        { class: "who" },
        h("strong", { text: p.name }),
        h(
          "span",
          { class: "meta" },
          h("code", { text: p.namespace }),
          ` · ${p.runtime ?? "no runtime"}${p.version ? ` · v${p.version}` : ""}`,
        ),
      ),
      h(
        "span",
        { class: "facts" },
        `restarts ${p.restarts} · last exit: ${exitText(p.last_exit)}`,
        h("br"),
        `health: ${probeText(p.last_probe)}`,
      ),
      h(
        "span",
        { class: "traffic" },
        sparkline(samples),
        h(
          "span",
          { class: "stats" },
          `${rps.toFixed(1)} req/s · `,
          h("span", { class: errors > 0 ? "bad" : undefined, text: `${(errors * 100).toFixed(1)}% 5xx` }),
          ` · p95 ${p95.length ? `${Math.max(...p95)} ms` : "–"}`,
        ),
      ),
    );
  }

  function renderWhy(p: Provider, why: HTMLElement, stderr: LogLine[]): void {
    if (p.status === "ready" || p.status === "disabled") {
      why.hidden = p.status === "ready" || !p.status_reason;
      if (p.status === "disabled") {
        why.replaceChildren(h("h3", { text: "Disabled" }), h("p", { text: p.status_reason ?? "" }));
      }
      return;
    }
    why.hidden = false;
    const facts: Array<[string, Child]> = [
      ["status", `${p.status} for ${ago(p.status_since)}: ${p.status_reason ?? "no reason given"}`],
    ];
    if (p.last_error) facts.push(["last error", h("pre", { text: p.last_error })]);
    if (p.last_probe) {
      const probe = p.last_probe;
      facts.push([
        "health check",
        `${probe.target} → ${probe.ok ? `${probe.status ?? "ok"}` : (probe.detail ?? "failed")} (${probe.latency_ms} ms, ${ago(probe.time)} ago)`,
      ]);
    }
    if (p.last_exit) facts.push(["last exit", `${exitText(p.last_exit)}, ${ago(p.last_exit.time)} ago`]);
    if (p.next_restart_at) {
      facts.push([
        "next restart",
        h("span", { class: "countdown", "data-at": p.next_restart_at, text: countdown(p.next_restart_at) }),
      ]);
      if (p.next_restart_reason) facts.push(["why", p.next_restart_reason]);
    }
    if (p.manifest_error) facts.push(["manifest", p.manifest_error]);
    if (stderr.length) {
      facts.push(["last stderr", h("pre", { text: stderr.map((l) => l.line).join("\n") })]);
    }
    why.replaceChildren(
      h("h3", { text: "Why is it not ready?" }),
      h("dl", {}, ...facts.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", {}, v)])),
    );
  }

  function countdown(at: string): string {
    const ms = Date.parse(at) - Date.now();
    return ms > 0 ? `in ${(ms / 1000).toFixed(1)} s` : "now";
  }

  function makeRow(p: Provider): Row {
    const summary = h("summary", { "aria-label": `${p.name}: details` });
    const why = h("div", { class: "why", role: "status" });
    why.hidden = true;
    const feedback = h("span", { class: "feedback", role: "status", "aria-live": "polite" });
    const controls = h("div", { class: "controls" });
    const logs = makeLogView(p.code);
    const elementHost = h("div", { class: "element-host" });
    const changeList = h("ul", { class: "changes" });
    const panel = h(
      "div",
      { class: "panel" },
      why,
      controls,
      h("div", { class: "recent" }, h("h3", { text: "Recent changes" }), changeList),
      h(
        "div",
        { class: "links" },
        h("a", { href: `/docs#/${encodeURIComponent(p.name)}`, text: "Operations in /docs" }),
        h("a", { href: `/_gateway/providers/${encodeURIComponent(p.code)}/openapi.json`, text: "Its spec" }),
        h("a", { href: "/metrics", text: `Series in /metrics (provider="${p.code}")` }),
      ),
      logs.root,
    );
    const details = h(
      "details",
      { class: "provider", "data-code": p.code, id: `provider-${p.code}` },
      summary,
      panel,
    );
    details.addEventListener("toggle", () => {
      if (details.open) void refreshLogs(p.code);
      else stopFollow(logs);
    });
    const row: Row = {
      details,
      summary,
      panel,
      why,
      controls,
      feedback,
      logs,
      elementHost,
      changes: changeList,
    };
    renderControls(p.code, row);
    return row;
  }

  function renderControls(code: string, row: Row): void {
    const p = providers.get(code);
    if (!p) return;
    const external = p.runtime === "external";
    const actions: Array<["start" | "stop" | "restart", string]> = [
      ["start", "Start"],
      ["stop", "Stop"],
      ["restart", "Restart"],
    ];
    const why = !access.allowed && !access.token_required ? access.reason : null;
    row.controls.replaceChildren(
      ...actions.map(([action, label]) => {
        const inapplicable =
          external ||
          (action === "start" && (p.status === "ready" || p.status === "starting")) ||
          (action === "stop" && (p.status === "stopped" || p.status === "disabled"));
        const button = h("button", {
          type: "button",
          "data-action": action,
          text: label,
          disabled: Boolean(why) || inapplicable,
          title:
            why ??
            (external ? "An external provider runs elsewhere: its agent starts and stops it" : undefined),
        });
        button.addEventListener("click", () => void act(code, action, button, row));
        return button;
      }),
      row.feedback,
    );
    if (why) row.feedback.textContent = `Controls disabled: ${why}`;
  }

  async function act(code: string, action: string, button: HTMLButtonElement, row: Row): Promise<void> {
    button.disabled = true;
    button.classList.add("busy");
    row.feedback.classList.remove("error");
    row.feedback.textContent = `${action}: sending…`;
    // The changes that answer it come after the last event seen now (maybe before the 202 does).
    const pending = { action, afterId: Number(lastEventId || 0), accepted: false };
    pendingAction.set(code, pending);
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const response = await fetch(`/_gateway/providers/${encodeURIComponent(code)}/${action}`, {
          method: "POST",
          headers: authHeaders(),
        });
        if (response.status === 401 && attempt === 0) {
          // Ask once for the token, then try again with it.
          if (!(await askForToken(token() ? "The admin token in use was refused." : undefined))) {
            pendingAction.delete(code);
            row.feedback.textContent = `${action}: needs the admin token`;
            return;
          }
          continue;
        }
        const body = (await response.json().catch(() => ({}))) as { detail?: string };
        if (response.status === 202) {
          pending.accepted = true;
          if (!settleAction(code))
            row.feedback.textContent = `${action}: accepted, waiting for the provider…`;
        } else {
          pendingAction.delete(code);
          row.feedback.classList.add("error");
          row.feedback.textContent = `${action} refused (${response.status}): ${body.detail ?? response.statusText}`;
        }
        return;
      }
    } catch (error) {
      pendingAction.delete(code);
      row.feedback.classList.add("error");
      row.feedback.textContent = `${action} failed: ${(error as Error).message}`;
    } finally {
      button.classList.remove("busy");
      renderControls(code, row);
    }
  }
  const pendingAction = new Map<string, { action: string; afterId: number; accepted: boolean }>();
  const SETTLED: readonly string[] = ["ready", "stopped", "failed", "disabled"];

  /** Says an accepted action is done once a change after it settled the provider; true if it did. */
  function settleAction(code: string): boolean {
    const pending = pendingAction.get(code);
    const row = rows.get(code);
    if (!pending?.accepted || !row) return false;
    const settled = (changes.get(code) ?? []).find(
      (c) => Number(c.id) > pending.afterId && SETTLED.includes(c.to),
    );
    if (!settled) return false;
    pendingAction.delete(code);
    row.feedback.textContent = `${pending.action}: done, now ${settled.to}`;
    return true;
  }

  // ---- logs -----------------------------------------------------------------------------------

  function makeLogView(code: string): LogView {
    const search = h("input", {
      type: "search",
      placeholder: "Search the logs",
      "aria-label": "Search the logs",
    });
    const follow = h("input", { type: "checkbox", checked: true });
    const pre = h("pre", { class: "log-lines", tabindex: "0", "aria-label": "Log lines" });
    const download = h("button", { type: "button", text: "Download" });
    const root = h(
      "div",
      { class: "logs" },
      h(
        "div",
        { class: "bar" },
        h("h3", { text: "Logs" }),
        search,
        h("label", {}, follow, " Follow"),
        download,
      ),
      pre,
    );
    const view: LogView = { root, pre, search, follow, lines: [], source: null, drawing: false };
    search.addEventListener("input", () => renderLogs(view));
    follow.addEventListener("change", () => {
      if (follow.checked) void refreshLogs(code);
      else stopFollow(view);
    });
    download.addEventListener("click", () => {
      const text = view.lines.map((l) => `${l.time} [${l.stream}] ${l.line}`).join("\n");
      const a = h("a", {
        href: URL.createObjectURL(new Blob([`${text}\n`], { type: "text/plain" })),
        download: `${code}.log`,
      });
      document.body.append(a);
      a.click();
      a.remove();
    });
    return view;
  }

  function stopFollow(view: LogView): void {
    view.source?.close();
    view.source = null;
  }

  const LOG_LINES_KEPT = 2000;

  /** Redraws a log view (and the stderr of "why") at most once a frame. */
  function drawSoon(code: string, view: LogView): void {
    if (view.drawing) return;
    view.drawing = true;
    requestAnimationFrame(() => {
      view.drawing = false;
      renderLogs(view);
      const row = rows.get(code);
      const p = providers.get(code);
      if (row && p) renderWhy(p, row.why, view.lines.filter((l) => l.stream === "stderr").slice(-10));
    });
  }

  /** Shows a provider's logs: followed live over its log stream, or read once when paused. */
  async function refreshLogs(code: string): Promise<void> {
    const row = rows.get(code);
    if (!row) return;
    const view = row.logs;
    if (providers.get(code)?.runtime === "external") {
      view.pre.replaceChildren("An external provider's output stays on its agent's machine.");
      return;
    }
    if (row.details.open && view.follow.checked) {
      if (view.source) return;
      const source = new EventSource(`/_gateway/providers/${encodeURIComponent(code)}/logs/stream?tail=500`);
      view.source = source;
      // Each (re)connection sends the last lines first: start afresh, so none is shown twice.
      source.addEventListener("open", () => {
        view.lines = [];
      });
      source.addEventListener("line", (event) => {
        view.lines.push(JSON.parse((event as MessageEvent<string>).data) as LogLine);
        if (view.lines.length > LOG_LINES_KEPT) view.lines.splice(0, view.lines.length - LOG_LINES_KEPT);
        drawSoon(code, view);
      });
      source.addEventListener("error", () => {
        if (source.readyState === EventSource.CLOSED && view.source === source) view.source = null;
      });
      return;
    }
    stopFollow(view);
    try {
      const body = await getJson<{ lines: LogLine[] }>(
        `/_gateway/providers/${encodeURIComponent(code)}/logs?tail=500`,
      );
      view.lines = body.lines;
      renderLogs(view);
      const p = providers.get(code);
      if (p) renderWhy(p, row.why, body.lines.filter((l) => l.stream === "stderr").slice(-10));
    } catch {
      // The provider may be gone; the next event says so.
    }
  }

  function renderLogs(view: LogView): void {
    const query = view.search.value.trim().toLowerCase();
    const atBottom = view.pre.scrollTop + view.pre.clientHeight >= view.pre.scrollHeight - 4;
    const lines = query
      ? view.lines.filter((l) => stripAnsi(l.line).toLowerCase().includes(query))
      : view.lines;
    view.pre.replaceChildren(
      ...lines.map((l) =>
        h(
          "span",
          { class: `line ${l.stream}` },
          h("span", { class: "tag", text: `${l.time.slice(11, 23)} ${l.stream.padEnd(7)} ` }),
          ...ansiSpans(l.line, query),
        ),
      ),
    );
    if (lines.length === 0) view.pre.append(query ? "No line matches." : "No output yet.");
    if (atBottom || view.follow.checked) view.pre.scrollTop = view.pre.scrollHeight;
  }

  const ANSI = /\x1b\[([0-9;]*)m/g;
  function stripAnsi(text: string): string {
    return text.replace(ANSI, "");
  }
  /** A line's SGR colour codes as classed spans (the codes themselves never shown), the search marked. */
  function ansiSpans(text: string, query: string): Node[] {
    const out: Node[] = [];
    let classes: string[] = [];
    let last = 0;
    const push = (chunk: string) => {
      if (!chunk) return;
      const span = h("span", { class: classes.length ? classes.join(" ") : undefined });
      if (query) {
        const lower = chunk.toLowerCase();
        let at = 0;
        for (let i = lower.indexOf(query); i >= 0; i = lower.indexOf(query, at)) {
          span.append(chunk.slice(at, i), h("mark", { text: chunk.slice(i, i + query.length) }));
          at = i + query.length;
        }
        span.append(chunk.slice(at));
      } else span.textContent = chunk;
      out.push(span);
    };
    for (const match of text.matchAll(ANSI)) {
      push(text.slice(last, match.index));
      last = match.index + match[0].length;
      for (const code of (match[1] || "0").split(";").map(Number)) {
        if (code === 0) classes = [];
        else if (code === 1) classes.push("a-bold");
        else if (code === 2) classes.push("a-dim");
        else if (code === 3) classes.push("a-italic");
        else if (code === 4) classes.push("a-underline");
        else if (code === 39) classes = classes.filter((c) => !/^a-\d/.test(c));
        else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) {
          classes = classes.filter((c) => !/^a-\d/.test(c));
          classes.push(`a-${code}`);
        }
      }
    }
    push(text.slice(last));
    return out;
  }

  // ---- elements -------------------------------------------------------------------------------

  /** Loads every element's script at once, each on its own: one that fails affects its panel only. */
  function loadElements(): void {
    for (const p of providers.values()) loadElement(p);
  }

  function loadElement(p: Provider): void {
    if (!p.element || elementStates.has(p.code)) return;
    const { tag, url } = p.element;
    const state: ElementState = { state: "loading" };
    elementStates.set(p.code, state);
    const fail = (error: string) => {
      if (state.state === "error") return;
      state.state = "error";
      state.error = error;
      renderElement(p.code);
    };
    // The rule of custom element names (lower case, a dash, not reserved); createElement would
    // make a plain HTMLElement of an invalid one and whenDefined would throw.
    if (!/^[a-z][a-z0-9._]*-[a-z0-9._-]*$/.test(tag) || RESERVED_TAGS.includes(tag)) {
      fail(`"${tag}" is not a valid custom element name (lower case, with a dash)`);
      return;
    }
    const absolute = new URL(url, location.origin).href;
    const script = h("script", { type: "module", src: url });
    script.addEventListener("error", () => fail(`its script ${url} could not be loaded`));
    document.head.append(script);
    const timer = window.setTimeout(
      () => fail(`its script did not define <${tag}> within ${ELEMENT_TIMEOUT_MS / 1000} s`),
      ELEMENT_TIMEOUT_MS,
    );
    // A script that throws reports to the window, with its URL: that panel, and only it, says so.
    scriptErrors.set(absolute, (message) => {
      clearTimeout(timer);
      fail(`its script threw: ${message}`);
    });
    customElements.whenDefined(tag).then(() => {
      clearTimeout(timer);
      if (state.state === "error") return;
      state.state = "defined";
      renderElement(p.code);
    });
    renderElement(p.code);
  }
  const RESERVED_TAGS = [
    "annotation-xml",
    "color-profile",
    "font-face",
    "font-face-src",
    "font-face-uri",
    "font-face-format",
    "font-face-name",
    "missing-glyph",
  ];
  const scriptErrors = new Map<string, (message: string) => void>();
  window.addEventListener("error", (event) => {
    const report = scriptErrors.get(event.filename);
    if (report) {
      report(event.message);
      event.preventDefault();
    }
  });

  function renderElement(code: string): void {
    const p = providers.get(code);
    const row = rows.get(code);
    if (!p || !row) return;
    const host = row.elementHost;
    if (!p.element) {
      host.remove();
      return;
    }
    if (!host.isConnected) row.panel.insertBefore(host, row.logs.root);
    const state = elementStates.get(code);
    if (!state || state.state === "loading") {
      if (!state?.mounted)
        host.replaceChildren(h("p", { class: "hint", text: `Loading <${p.element.tag}>…` }));
      return;
    }
    if (state.state === "error") {
      host.replaceChildren(
        h("p", { class: "error", role: "alert", text: `Its UI element failed: ${state.error}` }),
      );
      return;
    }
    if (p.status !== "ready") {
      if (!state.mounted)
        host.replaceChildren(h("p", { class: "hint", text: "Its UI element shows once it is ready." }));
      return;
    }
    if (state.mounted) return;
    try {
      const element = document.createElement(p.element.tag);
      // As Core's GUI passes them: the gateway's origin, and the provider's namespace URL.
      element.setAttribute("api-url", location.origin);
      element.setAttribute("base-url", `${location.origin}${p.namespace}`);
      host.replaceChildren(element);
      state.mounted = true;
    } catch (error) {
      state.state = "error";
      state.error = `it threw while being created: ${(error as Error).message}`;
      renderElement(code);
    }
  }

  // ---- the whole page -------------------------------------------------------------------------

  function renderProvider(code: string): void {
    const p = providers.get(code);
    const list = byId("providers");
    let row = rows.get(code);
    if (!p) {
      row?.details.remove();
      rows.delete(code);
      return;
    }
    if (!row) {
      row = makeRow(p);
      rows.set(code, row);
      // Kept in code order, whatever order they arrive in.
      const after = [...rows.keys()]
        .sort()
        .find((other) => other > code && rows.get(other)!.details.isConnected);
      list.insertBefore(row.details, after ? rows.get(after)!.details : null);
      loadElement(p);
    }
    renderSummary(p, row.summary);
    renderWhy(p, row.why, row.logs.lines.filter((l) => l.stream === "stderr").slice(-10));
    renderControls(code, row);
    settleAction(code);
    renderElement(code);
    renderChanges(code);
    if (row.details.open) void refreshLogs(code);
  }

  function renderChanges(code: string): void {
    const row = rows.get(code);
    if (!row) return;
    const list = changes.get(code) ?? [];
    row.changes.replaceChildren(
      ...(list.length
        ? list.map((c) =>
            h(
              "li",
              { "data-event-id": c.id },
              h("time", { datetime: c.time, text: c.time.slice(11, 19) }),
              ` ${c.from} → `,
              h("span", { class: `s-${c.to}`, text: c.to }),
              `: ${c.reason}`,
            ),
          )
        : [h("li", { class: "hint", text: "None since this page opened." })]),
    );
  }

  function renderHeader(): void {
    const all = [...providers.values()];
    const ready = all.filter((p) => p.status === "ready").length;
    const down = all.filter((p) => p.status === "failed" || p.status === "unhealthy").length;
    byId("summary").textContent = `${ready} of ${all.length} ready${down ? `, ${down} down` : ""}`;
    byId("token-button").textContent = token() ? "Admin token: set" : "Admin token";
  }

  function renderTimeline(): void {
    const starts = [...providers.values()]
      .filter((p) => p.last_start)
      .map((p) => ({ p, at: Date.parse(p.last_start!.started_at), ms: p.last_start!.ready_ms }));
    const timeline = byId("timeline");
    if (starts.length === 0) {
      timeline.replaceChildren(h("p", { class: "hint", text: "No provider has started yet." }));
      return;
    }
    const origin = Math.min(...starts.map((s) => s.at));
    const end = Math.max(...starts.map((s) => s.at + (s.ms ?? Date.now() - s.at)));
    const span = Math.max(1, end - origin);
    timeline.replaceChildren(
      ...starts
        .sort((a, b) => a.at - b.at)
        .map(({ p, at, ms }) => {
          const bar = h("span", { class: "bar" });
          bar.style.left = `${((at - origin) / span) * 100}%`;
          bar.style.width = `${(((ms ?? Date.now() - at) || 0) / span) * 100}%`;
          return h(
            "div",
            { class: "row", "data-code": p.code },
            h("span", { text: p.name }),
            h(
              "span",
              { class: "track", title: `${p.name}: ${ms === null ? "not ready yet" : `${ms} ms`}` },
              bar,
            ),
            h("span", { class: "ms", text: ms === null ? "…" : `${ms} ms` }),
          );
        }),
    );
  }

  async function loadProblems(): Promise<void> {
    const { problems } = await getJson<{
      problems: Array<{ level: string; file: string | null; field: string | null; message: string }>;
    }>("/_gateway/problems");
    const section = byId("problems");
    section.hidden = problems.length === 0;
    byId("problem-list").replaceChildren(
      ...problems.map((problem) =>
        h(
          "li",
          { class: problem.level === "error" ? "error" : undefined },
          problem.file ? h("code", { text: problem.file }) : "",
          ...(problem.field ? [" ", h("code", { text: problem.field })] : []),
          ` ${problem.message}`,
        ),
      ),
    );
  }

  const refreshing = new Map<string, Promise<void>>();
  /** Codes with an event that came while their refresh was out: that answer may predate it. */
  const refreshAgain = new Set<string>();
  /** Fetches one provider again (after an event names it); one request at a time per code, and one more if events came meanwhile. */
  function refreshProvider(code: string): Promise<void> {
    const pending = refreshing.get(code);
    if (pending) {
      refreshAgain.add(code);
      return pending;
    }
    const request = (async () => {
      const response = await fetch(`/_gateway/providers/${encodeURIComponent(code)}`);
      if (response.status === 404) providers.delete(code);
      else if (response.ok) providers.set(code, (await response.json()) as Provider);
      renderProvider(code);
      renderHeader();
      renderTimeline();
    })().finally(() => {
      refreshing.delete(code);
      if (refreshAgain.delete(code)) void refreshProvider(code);
    });
    refreshing.set(code, request);
    return request;
  }

  async function loadAll(): Promise<void> {
    const [{ providers: list }, samples] = await Promise.all([
      getJson<{ providers: Provider[] }>("/_gateway/providers"),
      getJson<{ providers: Record<string, Sample[]> }>("/_gateway/traffic"),
    ]);
    traffic = samples.providers;
    const known = new Set(list.map((p) => p.code));
    for (const code of [...providers.keys()]) if (!known.has(code)) providers.delete(code);
    for (const p of list) providers.set(p.code, p);
    for (const code of new Set([...rows.keys(), ...known])) renderProvider(code);
    renderHeader();
    renderTimeline();
  }

  async function loadAccess(): Promise<void> {
    access = await getJson<Access>("/_gateway/access", true);
    if (access.token_accepted === false) sessionStorage.removeItem(TOKEN_KEY);
    for (const [code, row] of rows) renderControls(code, row);
    renderHeader();
  }

  // ---- the admin token ------------------------------------------------------------------------

  function askForToken(why?: string): Promise<boolean> {
    const dialog = byId("token-dialog") as HTMLDialogElement;
    const input = byId("token-input") as HTMLInputElement;
    byId("token-error").textContent = why ?? "";
    input.value = "";
    return new Promise((resolve) => {
      const onClose = async () => {
        dialog.removeEventListener("close", onClose);
        if (dialog.returnValue !== "ok" || !input.value) return resolve(false);
        let verdict: Access;
        try {
          const check = await fetch("/_gateway/access", {
            headers: { authorization: `Bearer ${input.value}` },
          });
          verdict = (await check.json()) as Access;
        } catch {
          resolve(false);
          return;
        }
        if (!verdict.token_accepted) {
          resolve(await askForToken("That is not the admin token."));
          return;
        }
        sessionStorage.setItem(TOKEN_KEY, input.value);
        access = verdict;
        renderHeader();
        resolve(true);
      };
      dialog.addEventListener("close", onClose);
      // Escape or Cancel must not reuse the last close's "ok".
      dialog.returnValue = "";
      dialog.showModal();
      input.focus();
    });
  }

  // ---- live -----------------------------------------------------------------------------------

  let lastEventId = "";
  function connect(): void {
    const stream = byId("stream");
    // The browser resumes by itself, sending Last-Event-ID; when it gives up (an error answer),
    // a new stream is opened here, resuming from the last id seen by the query parameter.
    const events = new EventSource(
      lastEventId ? `/_gateway/events?last_event_id=${encodeURIComponent(lastEventId)}` : "/_gateway/events",
    );
    let opened = false;
    events.addEventListener("open", () => {
      stream.textContent = "live";
      stream.classList.remove("down");
      // After a reconnect the browser sent Last-Event-ID: the missed changes arrive as events.
      // Problems (manifests) have no events: read them again.
      // Providers that came or went meanwhile have no status events either: read the list too.
      if (opened) {
        void loadAll();
        void loadProblems();
      }
      opened = true;
    });
    events.addEventListener("error", () => {
      stream.textContent = "reconnecting…";
      stream.classList.add("down");
      if (events.readyState === EventSource.CLOSED) window.setTimeout(connect, 2000);
    });
    const onEvent = (event: MessageEvent<string>) => {
      const data = JSON.parse(event.data) as {
        code: string;
        from?: string;
        to?: string;
        reason?: string;
        time?: string;
      };
      const { code } = data;
      if (event.lastEventId) lastEventId = event.lastEventId;
      if (event.type === "status") {
        const list = changes.get(code) ?? [];
        list.push({
          id: event.lastEventId,
          from: data.from ?? "",
          to: data.to ?? "",
          reason: data.reason ?? "",
          time: data.time ?? "",
        });
        changes.set(code, list.slice(-CHANGES_KEPT));
        document.documentElement.dataset.lastEventId = event.lastEventId;
      }
      if (!providers.has(code)) void loadAll();
      else void refreshProvider(code);
    };
    // Providers came or went (a manifest added or removed): read the list, and what did not load, again.
    events.addEventListener("providers", () => {
      void loadAll();
      void loadProblems();
    });
    events.addEventListener("snapshot", onEvent as EventListener);
    events.addEventListener("status", onEvent as EventListener);
  }

  async function pollTraffic(): Promise<void> {
    if (!document.hidden) {
      try {
        traffic = (await getJson<{ providers: Record<string, Sample[]> }>("/_gateway/traffic")).providers;
        for (const [code, row] of rows) {
          const p = providers.get(code);
          if (p) renderSummary(p, row.summary);
        }
      } catch {
        // The stream's state says whether the gateway is reachable.
      }
    }
    window.setTimeout(() => void pollTraffic(), 5000);
  }

  function tick(): void {
    for (const node of document.querySelectorAll<HTMLElement>(".countdown")) {
      node.textContent = countdown(node.dataset.at!);
    }
    for (const [code, row] of rows) {
      const p = providers.get(code);
      const since = row.summary.querySelector(".since");
      if (p && since && p.status_since) since.textContent = `for ${ago(p.status_since)}`;
    }
  }

  async function main(): Promise<void> {
    byId("token-button").addEventListener("click", () => void askForToken().then(() => loadAccess()));
    byId("token-cancel").addEventListener("click", () =>
      (byId("token-dialog") as HTMLDialogElement).close("cancel"),
    );
    await loadAll();
    connect();
    await Promise.all([loadProblems(), loadAccess()]);
    loadElements();
    void pollTraffic();
    window.setInterval(tick, 1000);
    document.documentElement.dataset.loaded = "true";
  }

  void main().catch((error: Error) => {
    byId("summary").textContent = `The dashboard could not load: ${error.message}`;
  });
}
