/**
 * Built-in runtimes, as data. `<providers-dir>/runtimes.yaml` adds to or overrides these with
 * the same shape. Placeholders in `command`: `{binary}`, `{entry}` (resolved paths), `{args}`
 * (the manifest's args, spliced), `{namespace}`, `{port}`, `{bun}` (the gateway's own Bun).
 */
export const BUILTIN_RUNTIMES = {
  core: {
    description: "A Core provider binary: runs binary, args, then --namespace NAMESPACE --port PORT",
    requires: "binary",
    command: ["{binary}", "{args}", "--namespace", "{namespace}", "--port", "{port}"],
  },
  exec: {
    description: "Any program: runs binary and args only (use ${PORT} in args)",
    requires: "binary",
    command: ["{binary}", "{args}"],
  },
  bun: {
    description: "A TypeScript or JavaScript entry run by the gateway's embedded Bun (nothing to install)",
    requires: "entry",
    // --no-orphans: the provider arms the kernel's parent-death signal itself (and ends its own
    // children when it exits), so no setpriv wrapper is needed: measured 30 ms less to start 50.
    command: ["{bun}", "run", "--no-orphans", "{entry}", "{args}"],
    dies_with_gateway: true,
  },
  node: {
    description: "A JavaScript entry run by node from PATH",
    requires: "entry",
    command: ["node", "{entry}", "{args}"],
  },
  deno: {
    description: "A TypeScript or JavaScript entry run by deno from PATH",
    requires: "entry",
    command: ["deno", "run", "--allow-all", "{entry}", "{args}"],
  },
  python: {
    description: "A Python entry run by python3 from PATH",
    requires: "entry",
    command: ["python3", "{entry}", "{args}"],
  },
  external: {
    description: "Runs on someone else's machine and registers with a minted token; nothing is started",
    requires: "nothing",
    command: [],
  },
} as const;
