import { Hono } from "hono";
import { elementUrl } from "../lib/elements.ts";
import type { Gateway } from "../lib/gateway.ts";
import { HttpProblem } from "../lib/problem.ts";
import type { LogLine } from "../lib/supervisor/logs.ts";
import type { StatusEvent } from "../lib/supervisor/status.ts";
import { requireAdmin } from "./auth.ts";
import type { AppEnv } from "./env.ts";
import { TailQuery } from "./schemas.ts";
import { eventStream } from "./sse.ts";

/** The admin API under `/_gateway`. */
export function providerRoutes(gateway: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const admin = requireAdmin(gateway.config);
  const find = (code: string) => {
    const entry = gateway.providers.get(code);
    if (!entry) throw new HttpProblem(404, `No provider "${code}"; GET /_gateway/providers lists them`);
    return entry;
  };

  /** The provider whose logs are asked for, and how many lines; 501 for an external one, 400 for a bad `tail`. */
  const logsRequest = (code: string, queryParams: Record<string, string>) => {
    const entry = find(code);
    if (entry.discovered.manifest.runtime === "external") {
      throw new HttpProblem(
        501,
        `Provider "${entry.supervisor.code}" is external: its output stays on the agent's machine, so the gateway has no logs of it`,
      );
    }
    const query = TailQuery.safeParse(queryParams);
    if (!query.success) {
      const issue = query.error.issues[0]!;
      throw new HttpProblem(400, `Query parameter "${issue.path.join(".") || "?"}": ${issue.message}`);
    }
    return { entry, tail: query.data.tail };
  };

  app.get("/_gateway/providers", (c) => c.json({ providers: gateway.views() }));
  app.get("/_gateway/providers/:code", (c) =>
    c.json(gateway.view(find(c.req.param("code")).supervisor.code)),
  );

  // The same lines as they come, as server-sent events (`event: line`, data as in /logs): the
  // last `tail` first, then each new one. The dashboard follows a provider's output with it.
  app.get("/_gateway/providers/:code/logs/stream", (c) => {
    const { entry, tail } = logsRequest(c.req.param("code"), c.req.query());
    c.env.context.keepOpen();
    const logs = entry.supervisor.logs;
    const line = (l: LogLine) =>
      `event: line\ndata: ${JSON.stringify({ time: new Date(l.time).toISOString(), stream: l.stream, line: l.line })}\n\n`;
    return eventStream(": connected\n\n", (send) => {
      for (const l of logs.tail(tail)) send(line(l));
      return logs.follow((l) => send(line(l)));
    });
  });

  app.get("/_gateway/providers/:code/logs", (c) => {
    const { entry, tail } = logsRequest(c.req.param("code"), c.req.query());
    const lines = entry.supervisor.logs.tail(tail).map((line) => ({
      time: new Date(line.time).toISOString(),
      stream: line.stream,
      line: line.line,
    }));
    return c.json({ provider: entry.supervisor.code, lines });
  });

  for (const action of ["start", "stop", "restart"] as const) {
    app.post(`/_gateway/providers/:code/${action}`, admin, (c) => {
      const entry = find(c.req.param("code"));
      const { supervisor } = entry;
      if (!entry.launchable) {
        throw new HttpProblem(
          501,
          supervisor.manifest.runtime === "external"
            ? `Provider "${supervisor.code}" is external: its agent runs it on another machine, so the gateway cannot ${action} it`
            : `Provider "${supervisor.code}" has runtime ${supervisor.manifest.runtime ?? "none"}, which the gateway does not run, so it cannot ${action} it`,
        );
      }
      if (supervisor.status === "disabled" && action !== "stop") {
        throw new HttpProblem(
          409,
          `Provider "${supervisor.code}" is disabled: ${supervisor.lastError ?? "see the registry"}`,
        );
      }
      if (action === "start") supervisor.start();
      else if (action === "stop") void supervisor.stop("stop requested over the admin API");
      else void supervisor.restart();
      return c.json({ accepted: action, provider: gateway.view(supervisor.code) }, 202);
    });
  }

  app.get("/_gateway/runtimes", (c) =>
    c.json({
      runtimes: gateway.runtimes
        .list()
        .map(({ name, description, requires, command, dies_with_gateway, source }) => ({
          name,
          description,
          requires,
          command,
          dies_with_gateway,
          source,
        })),
    }),
  );

  app.get("/_gateway/problems", (c) => c.json({ problems: gateway.problems }));

  app.get("/_gateway/elements", (c) =>
    c.json(
      [...gateway.providers.values()]
        .filter((entry) => entry.discovered.manifest.element && entry.supervisor.status !== "disabled")
        .map((entry) => {
          const { code, element } = entry.discovered.manifest;
          return { provider: code, tag: element!.tag, url: elementUrl(code, element!.source) };
        }),
    ),
  );

  app.get("/_gateway/events", (c) => {
    c.env.context.keepOpen();
    // A browser's EventSource sends Last-Event-ID when it reconnects; `?last_event_id=` is for clients that cannot.
    const resumeFrom = c.req.header("last-event-id") ?? c.req.query("last_event_id");
    const missed = resumeFrom === undefined ? null : gateway.events.since(Number(resumeFrom));
    const status = (id: number, event: StatusEvent) =>
      `id: ${id}\nevent: status\ndata: ${JSON.stringify(event)}\n\n`;
    // A reconnect after a second, not the browser's default of three.
    return eventStream(": connected\nretry: 1000\n\n", (send) => {
      if (missed) {
        // Resumed: only what changed since, in order, so nothing is lost and nothing repeated.
        for (const { id, event } of missed) send(status(id, event));
      } else {
        // A fresh start (or too far behind to resume): every provider as it is now.
        const id = gateway.events.lastId;
        for (const view of gateway.views()) {
          send(
            `id: ${id}\nevent: snapshot\ndata: ${JSON.stringify({ code: view.code, status: view.status })}\n\n`,
          );
        }
      }
      const unsubscribeStatus = gateway.subscribe((event, id) => send(status(id, event)));
      // Providers that appear or go are no status change: said as `providers` with the codes
      // there are now (its id is the last status change's, so a resume still starts there).
      let codes = [...gateway.providers.keys()].sort().join(",");
      const unsubscribeSet = gateway.onDocumentChange(() => {
        const now = [...gateway.providers.keys()].sort().join(",");
        if (now === codes) return;
        codes = now;
        send(
          `id: ${gateway.events.lastId}\nevent: providers\ndata: ${JSON.stringify({ codes: now ? now.split(",") : [] })}\n\n`,
        );
      });
      return () => {
        unsubscribeStatus();
        unsubscribeSet();
      };
    });
  });

  return app;
}
