/**
 * One provider contract, run against a local provider the gateway spawns, an external one
 * registered over HTTP, and an external one served through `gateway agent`'s dial-out tunnel: health, namespace stripping, forwarding headers, status, OpenAPI presence,
 * lifecycle (or 501), logs (or 501), strict bodies and auth. Where the kinds must differ, KINDS
 * says so, in one place. And `gateway check --url` runs the provider-facing part against an agent
 * not registered anywhere yet.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  addEchoProvider,
  agentCall,
  cleanup,
  createExternal,
  getProvider,
  makeSpace,
  request,
  runCli,
  serveArgs,
  spawnGateway,
  startAgent,
  startTunnelAgent,
  waitFor,
  waitForStatus,
} from "./helpers.ts";

setDefaultTimeout(90_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

const ADMIN = "contract-admin-token";
const admin = { authorization: `Bearer ${ADMIN}` };

interface Subject {
  url: string;
  code: string;
}

type Echo = { path: string; query: string; headers: Record<string, string> };

/** How the two kinds of provider differ, and nowhere else. */
const KINDS = {
  local: {
    /** start, stop, restart: the gateway runs the process. */
    lifecycle: 202,
    /** Its output is the gateway's to keep. */
    logs: 200,
    setup: async (): Promise<Subject> => {
      const space = makeSpace();
      addEchoProvider(space, "subject");
      const gw = await spawnGateway([...serveArgs(space), "--admin-token", ADMIN]);
      await waitForStatus(gw.url, "subject", "ready");
      return { url: gw.url, code: "subject" };
    },
  },
  external: {
    /** Its agent runs it elsewhere: the gateway cannot start, stop or restart it. */
    lifecycle: 501,
    /** Its output stays on the agent's machine. */
    logs: 501,
    setup: async (): Promise<Subject> => {
      const space = makeSpace();
      const agent = await startAgent(space, { name: "subject" });
      const gw = await spawnGateway([...serveArgs(space), "--admin-token", ADMIN]);
      const created = await createExternal(gw.url, { code: "subject", runtime: "external" }, admin);
      expect(created.status).toBe(201);
      const c = created.body.connection;
      expect((await agentCall(c.register_endpoint, c.auth_token, { url: agent.url })).status).toBe(200);
      return { url: gw.url, code: "subject" };
    },
  },
  tunnel: {
    /** An external provider all the same, served through `gateway agent`'s dial-out tunnel. */
    lifecycle: 501,
    logs: 501,
    setup: async (): Promise<Subject> => {
      const space = makeSpace();
      const upstream = await startAgent(space, { name: "subject" });
      const gw = await spawnGateway([...serveArgs(space), "--admin-token", ADMIN]);
      const created = await createExternal(gw.url, { code: "subject", runtime: "external" }, admin);
      expect(created.status).toBe(201);
      startTunnelAgent(space, created.body.connection.agent_command, upstream.url);
      await waitForStatus(gw.url, "subject", "ready");
      return { url: gw.url, code: "subject" };
    },
  },
} as const;

for (const [kind, spec] of Object.entries(KINDS)) {
  describe(`the provider contract, ${kind}`, () => {
    test("it is ready and answers through its namespace, the namespace stripped and the query kept", async () => {
      const { url, code } = await spec.setup();
      expect((await getProvider(url, code)).status).toBe("ready");
      const echo = await request<Echo>(`${url}/api/v1/${code}/a/b?x=1&y=%20`);
      expect(echo.status).toBe(200);
      expect(echo.body.path).toBe("/a/b");
      expect(echo.body.query).toBe("?x=1&y=%20");
      expect(echo.headers.get("x-request-id")).toBeTruthy();
    });

    test("it gets the gateway's forwarding headers, never the client's", async () => {
      const { url, code } = await spec.setup();
      const echo = await request<Echo>(`${url}/api/v1/${code}/h`, {
        headers: { "x-forwarded-for": "6.6.6.6", forwarded: "for=6.6.6.6", "x-request-id": "contract-1" },
      });
      const h = echo.body.headers;
      expect(h["x-forwarded-for"]).toBe("127.0.0.1");
      expect(h["x-forwarded-proto"]).toBe("http");
      expect(h["x-forwarded-prefix"]).toBe(`/api/v1/${code}`);
      expect(h["x-forwarded-host"]).toBe(new URL(url).host);
      expect(h.forwarded).toBeUndefined();
      expect(h["x-request-id"]).toBe("contract-1");
    });

    test("its paths are in the merged OpenAPI document under its namespace", async () => {
      const { url, code } = await spec.setup();
      await waitFor("its spec to be merged", async () => {
        const doc = await request<{ paths: Record<string, unknown> }>(`${url}/openapi.json`);
        return `/api/v1/${code}/items` in doc.body.paths;
      });
    });

    test(`start, stop and restart answer ${spec.lifecycle}; logs ${spec.logs}`, async () => {
      const { url, code } = await spec.setup();
      // Only restart is tried for real (stop would take the subject away); all say what they can do.
      const restart = await request(`${url}/_gateway/providers/${code}/restart`, {
        method: "POST",
        headers: admin,
      });
      expect(restart.status).toBe(spec.lifecycle);
      if (spec.lifecycle === 202) await waitForStatus(url, code, "ready");
      for (const action of ["start", "stop"]) {
        if (spec.lifecycle === 501) {
          expect(
            (await request(`${url}/_gateway/providers/${code}/${action}`, { method: "POST", headers: admin }))
              .status,
          ).toBe(501);
        }
      }
      expect((await request(`${url}/_gateway/providers/${code}/logs`)).status).toBe(spec.logs);
    });

    test("mutating routes need the admin token; admin bodies are strict", async () => {
      const { url, code } = await spec.setup();
      expect((await request(`${url}/_gateway/providers/${code}/restart`, { method: "POST" })).status).toBe(
        401,
      );
      expect((await request(`${url}/_gateway/providers/${code}/token`, { method: "POST" })).status).toBe(401);
      const strict = await request<{ detail: string }>(`${url}/_gateway/providers`, {
        method: "POST",
        headers: { ...admin, "content-type": "application/json" },
        body: JSON.stringify({ code: "another", runtime: "external", extra: 1 }),
      });
      expect(strict.status).toBe(400);
      expect(strict.body.detail).toContain('"extra"');
    });
  });
}

describe("gateway check --url", () => {
  test("passes for a working agent not registered anywhere, with the same table as check DIR", async () => {
    const space = makeSpace();
    const agent = await startAgent(space);
    const { code, stdout } = await runCli(["check", "--url", agent.url]);
    expect(stdout).toMatch(/ok\s+register/);
    expect(stdout).toMatch(/ok\s+ready/);
    expect(stdout).toMatch(/ok\s+proxy/);
    expect(stdout).toMatch(/ok\s+spec/);
    expect(stdout).toContain("check: ");
    expect(code).toBe(0);
  });

  test("fails, saying why, for a URL nothing answers at", async () => {
    const { code, stdout } = await runCli(["check", "--url", "http://127.0.0.1:1"]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/FAIL\s+register\s+.*did not answer the gateway's probe/);
  });
});
