/**
 * The widgets provider: a small JSON API on Bun.serve, started by the gateway with its own Bun.
 *
 * What the gateway gives this process (see README, "What a provider gets"):
 * - `PORT`: the port to listen on, on 127.0.0.1 (the gateway proxies to 127.0.0.1 only);
 * - `CORE_PROVIDER_NAMESPACE`: where it is mounted (`/api/v1/widgets`), already stripped from
 *   request paths, so the routes below are written without it;
 * - the manifest's `env` (here `WIDGETS_SEED`);
 * - SIGTERM when it should stop (Bun exits on it by default).
 *
 * It imports nothing: it runs from its own folder with no node_modules.
 */

interface Widget {
  id: number;
  name: string;
  colour: string;
  created_at: string;
}

const port = Number(process.env.PORT ?? 3000);
const namespace = process.env.CORE_PROVIDER_NAMESPACE ?? "/";

const COLOURS = ["red", "green", "blue", "yellow"];
const widgets = new Map<number, Widget>();
let nextId = 1;

function addWidget(name: string, colour: string): Widget {
  const widget: Widget = { id: nextId++, name, colour, created_at: new Date().toISOString() };
  widgets.set(widget.id, widget);
  return widget;
}

for (let i = 0; i < Number(process.env.WIDGETS_SEED ?? 0); i++) {
  addWidget(`Widget ${i + 1}`, COLOURS[i % COLOURS.length]!);
}

/** Errors in the same shape the gateway uses: RFC 9457 problem details. */
function problem(status: number, title: string, detail: string): Response {
  return Response.json(
    { type: "about:blank", title, status, detail },
    {
      status,
      headers: { "content-type": "application/problem+json" },
    },
  );
}

/** Reads and checks the body of POST /items: `{"name": string, "colour"?: string}`. */
async function parseNewWidget(request: Request): Promise<{ name: string; colour: string } | string> {
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return 'The body must be JSON such as {"name": "Sprocket"}';
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) return "The body must be a JSON object";
  const { name, colour, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `Unknown field "${unknown[0]}"; known fields are name and colour`;
  if (typeof name !== "string" || name.trim() === "") return 'Field "name" must be a non-empty string';
  if (colour !== undefined && typeof colour !== "string") return 'Field "colour" must be a string';
  return { name: name.trim(), colour: colour ?? "grey" };
}

const server = Bun.serve({
  hostname: "127.0.0.1",
  port,
  routes: {
    "/health": { GET: () => Response.json({ status: "ok", widgets: widgets.size }) },
    "/items": {
      GET: () => Response.json({ items: [...widgets.values()] }),
      POST: async (request) => {
        const parsed = await parseNewWidget(request);
        if (typeof parsed === "string") return problem(400, "Bad Request", parsed);
        const widget = addWidget(parsed.name, parsed.colour);
        // Location is relative to this server; the gateway rewrites it under the namespace.
        return Response.json(widget, { status: 201, headers: { location: `/items/${widget.id}` } });
      },
    },
    "/items/:id": {
      GET: (request) => {
        const widget = widgets.get(Number(request.params.id));
        if (!widget) return problem(404, "Not Found", `No widget with id ${request.params.id}`);
        return Response.json(widget);
      },
    },
  },
  // Anything the routes above do not match.
  fetch(request) {
    return problem(404, "Not Found", `No route ${request.method} ${new URL(request.url).pathname}`);
  },
});

console.log(`widgets listening on ${server.url} (mounted at ${namespace})`);
