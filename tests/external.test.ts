/**
 * External providers (contract §5) over real HTTP: create, tokens, register with its checks and
 * probe, heartbeats and their timer, proxying to the agent, deletion, persistence across a
 * gateway restart, and the strict admin API.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  addEchoProvider,
  agentCall,
  cleanup,
  createExternal,
  getProvider,
  makeSpace,
  onCleanup,
  request,
  serveArgs,
  spawnGateway,
  startAgent,
  startDns,
  waitFor,
  waitForStatus,
} from "./helpers.ts";

setDefaultTimeout(90_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

type Echo = { provider: string; path: string; headers: Record<string, string> };

describe("creating an external provider", () => {
  test("201 with the provider awaiting its agent and a connection block; only the token's hash is stored, and it is never logged", async () => {
    const space = makeSpace();
    const gw = await spawnGateway([...serveArgs(space), "--log-level", "debug"]);
    const { status, body } = await createExternal(gw.url, {
      code: "far",
      runtime: "external",
      heartbeat_interval: 5,
    });
    expect(status).toBe(201);
    expect(body.provider).toMatchObject({
      code: "far",
      status: "awaiting_agent",
      namespace: "/api/v1/far",
      runtime: "external",
    });
    const c = body.connection;
    expect(c.auth_token).toMatch(/^gwp_[0-9A-Za-z]{28}$/);
    expect(c).toMatchObject({
      provider_code: "far",
      gateway_url: gw.url,
      register_endpoint: `${gw.url}/_gateway/providers/far/register`,
      heartbeat_endpoint: `${gw.url}/_gateway/providers/far/heartbeat`,
      tunnel_endpoint: `${gw.url.replace("http", "ws")}/_gateway/providers/far/tunnel`,
      heartbeat_interval: 5,
    });
    expect(c.curl_register).toContain(c.auth_token);
    expect(c.agent_command).toStartWith("gateway agent --gateway");
    const registry = readFileSync(join(space.providersDir, "registry.yaml"), "utf8");
    expect(registry).toContain("token_sha256");
    expect(registry).not.toContain(c.auth_token);
    // The token in a request must not reach the log either.
    await agentCall(c.heartbeat_endpoint, c.auth_token);
    // A wrong token: the last character changed (a token may end in "x" itself: 1 in 62).
    const last = c.auth_token.at(-1) === "x" ? "y" : "x";
    await agentCall(c.heartbeat_endpoint, `${c.auth_token.slice(0, -1)}${last}`);
    // The log is read from a pipe: wait for the line rather than a fixed time.
    await waitFor("the refusal in the log", () => gw.stderr().includes('Refused a provider token for "far"'));
    expect(gw.stderr()).not.toContain(c.auth_token.slice(4));
  });

  test("the handed-out curl_register line, run by bash with AGENT_URL set, registers the agent; requests then reach it", async () => {
    const space = makeSpace();
    const gw = await spawnGateway(serveArgs(space));
    const agent = await startAgent(space);
    const { body } = await createExternal(gw.url, { code: "curled", runtime: "external" });
    const run = Bun.spawnSync(["bash", "-c", body.connection.curl_register], {
      env: { ...process.env, AGENT_URL: agent.url },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(run.stderr.toString()).toBe("");
    expect(run.exitCode).toBe(0);
    expect(JSON.parse(run.stdout.toString()).provider.status).toBe("ready");
    const echo = await request<Echo>(`${gw.url}/api/v1/curled/items?x=1`, {
      headers: { "x-forwarded-for": "6.6.6.6" },
    });
    expect(echo.status).toBe(200);
    expect(echo.body.path).toBe("/items");
    expect(echo.body.headers["x-forwarded-prefix"]).toBe("/api/v1/curled");
    expect(echo.body.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(echo.body.headers.host).toBe(`127.0.0.1:${agent.port}`);
    // /readyz does not wait for external providers; the merged document has its paths.
    expect((await request(`${gw.url}/readyz`)).status).toBe(200);
    await waitFor("its spec in /openapi.json", async () => {
      const doc = await request<{ paths: Record<string, unknown> }>(`${gw.url}/openapi.json`);
      return "/api/v1/curled/items" in doc.body.paths;
    });
  });

  test("a code or namespace in use is 409 (also for two creates at once); another runtime is 501", async () => {
    const space = makeSpace();
    addEchoProvider(space, "local");
    const gw = await spawnGateway(serveArgs(space));
    await waitForStatus(gw.url, "local", "ready");
    expect((await createExternal(gw.url, { code: "local", runtime: "external" })).status).toBe(409);
    const overlap = await createExternal(gw.url, {
      code: "other",
      runtime: "external",
      namespace: "/api/v1/local/sub",
    });
    expect(overlap.status).toBe(409);
    expect(overlap.body.detail).toContain("overlaps");
    expect((await createExternal(gw.url, { code: "made", runtime: "bun" })).status).toBe(501);
    const both = await Promise.all([
      createExternal(gw.url, { code: "twin", runtime: "external" }),
      createExternal(gw.url, { code: "twin", runtime: "external" }),
    ]);
    expect(both.map((b) => b.status).sort()).toEqual([201, 409]);
  });
});

describe("tokens", () => {
  test("missing, malformed, wrong, another provider's and typo'd tokens all get the same 401; failures past the limit get 429", async () => {
    const space = makeSpace();
    const gw = await spawnGateway(serveArgs(space));
    const one = (await createExternal(gw.url, { code: "one", runtime: "external" })).body.connection;
    const two = (await createExternal(gw.url, { code: "two", runtime: "external" })).body.connection;
    const typo = `${one.auth_token.slice(0, 10)}${one.auth_token[10] === "a" ? "b" : "a"}${one.auth_token.slice(11)}`;
    const answers = [];
    for (const token of [undefined, "nonsense", `gwp_${"A".repeat(28)}`, two.auth_token, typo]) {
      answers.push(await agentCall(one.heartbeat_endpoint, token));
    }
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(answer.body.detail).toBe(
        'This route needs Authorization: Bearer <provider token> of provider "one"',
      );
    }
    expect((await agentCall(one.heartbeat_endpoint, one.auth_token)).status).toBe(200);
    for (let i = 0; i < 6; i++) await agentCall(one.heartbeat_endpoint, "nonsense");
    const limited = await agentCall(one.heartbeat_endpoint, one.auth_token);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  test("a rotation keeps the old token valid for its overlap, then only the new one works", async () => {
    const space = makeSpace();
    const gw = await spawnGateway(serveArgs(space));
    const first = (await createExternal(gw.url, { code: "rotor", runtime: "external" })).body.connection;
    const rotate = (overlap: number) =>
      request<{ auth_token: string; previous_token_expires_at: string; overlap_seconds: number }>(
        `${gw.url}/_gateway/providers/rotor/token`,
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ overlap_seconds: overlap }),
        },
      );
    const second = await rotate(1.5);
    expect(second.status).toBe(200);
    expect(second.body.auth_token).not.toBe(first.auth_token);
    expect(second.body.overlap_seconds).toBe(1.5);
    expect((await agentCall(first.heartbeat_endpoint, first.auth_token)).status).toBe(200);
    expect((await agentCall(first.heartbeat_endpoint, second.body.auth_token)).status).toBe(200);
    await Bun.sleep(1700);
    expect((await agentCall(first.heartbeat_endpoint, first.auth_token)).status).toBe(401);
    expect((await agentCall(first.heartbeat_endpoint, second.body.auth_token)).status).toBe(200);
    // The default overlap is ten minutes.
    expect(
      (
        await request<{ overlap_seconds: number }>(`${gw.url}/_gateway/providers/rotor/token`, {
          method: "POST",
        })
      ).body.overlap_seconds,
    ).toBe(600);
  });
});

describe("heartbeats", () => {
  test("answer {interval, ttl}; silence for 3 intervals is unhealthy (503), for 10 awaiting_agent; the next heartbeat brings it back", async () => {
    const space = makeSpace();
    const gw = await spawnGateway(serveArgs(space));
    const agent = await startAgent(space);
    const c = (await createExternal(gw.url, { code: "beat", runtime: "external", heartbeat_interval: 0.2 }))
      .body.connection;
    expect((await agentCall(c.register_endpoint, c.auth_token, { url: agent.url })).status).toBe(200);
    const beat = await agentCall(c.heartbeat_endpoint, c.auth_token);
    expect(beat.body).toEqual({ interval: 0.2, ttl: 0.6 });
    await waitForStatus(gw.url, "beat", "unhealthy", 5000);
    const refused = await request<{ detail: string }>(`${gw.url}/api/v1/beat/x`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    await waitForStatus(gw.url, "beat", "awaiting_agent", 5000);
    expect((await agentCall(c.heartbeat_endpoint, c.auth_token)).status).toBe(200);
    expect((await getProvider(gw.url, "beat")).status).toBe("ready");
    expect((await request(`${gw.url}/api/v1/beat/x`)).status).toBe(200);
  });

  test("an agent that stops answering is unhealthy at the first connection the proxy cannot open", async () => {
    const space = makeSpace();
    const gw = await spawnGateway(serveArgs(space));
    const agent = await startAgent(space);
    const c = (await createExternal(gw.url, { code: "gone", runtime: "external", heartbeat_interval: 60 }))
      .body.connection;
    await agentCall(c.register_endpoint, c.auth_token, { url: agent.url });
    expect((await request(`${gw.url}/api/v1/gone/x`)).status).toBe(200);
    await agent.stop();
    const failed = await request(`${gw.url}/api/v1/gone/x`);
    expect(failed.status).toBe(502);
    const view = await waitForStatus(gw.url, "gone", "unhealthy", 5000);
    expect(view.last_error).toContain("could not reach the agent");
  });
});

describe("register", () => {
  test("refuses what it cannot reach or may not: a dead port, metadata, link-local, unspecified, IPv4-mapped, bad schemes; a second URL needs replace", async () => {
    const space = makeSpace();
    const gw = await spawnGateway(serveArgs(space));
    const agent = await startAgent(space);
    const other = await startAgent(space);
    const c = (await createExternal(gw.url, { code: "picky", runtime: "external" })).body.connection;
    const register = (body: Record<string, unknown>) => agentCall(c.register_endpoint, c.auth_token, body);
    for (const [url, words] of [
      ["http://169.254.169.254/latest", "metadata"],
      ["http://169.254.10.1:8080", "link-local"],
      ["http://0.0.0.0:8080", "never an agent"],
      ["http://[::ffff:127.0.0.1]:8080", "IPv4-mapped"],
      ["ftp://127.0.0.1/x", "http or https"],
      ["http://127.0.0.1:1", "did not answer the gateway's probe"],
      ["http://user:pw@127.0.0.1:8080", "credentials"],
      ["http://8.8.8.8:80", "--external-allow"],
    ] as const) {
      const answer = await register({ url });
      expect({ url, status: answer.status }).toEqual({ url, status: 422 });
      expect(answer.body.detail).toContain(words);
    }
    expect((await register({ url: agent.url, health_path: "/health" })).status).toBe(200);
    // Replayed: the same URL again is fine.
    expect((await register({ url: agent.url })).status).toBe(200);
    const moved = await register({ url: other.url });
    expect(moved.status).toBe(409);
    expect(moved.body.detail).toContain('"replace": true');
    expect((await register({ url: other.url, replace: true })).status).toBe(200);
    expect((await getProvider(gw.url, "picky")).upstream).toBe(other.url);
  });
});

describe("lifecycle", () => {
  test("start, stop, restart and logs are 501; DELETE removes it and its token, and refuses a local provider", async () => {
    const space = makeSpace();
    addEchoProvider(space, "local");
    const gw = await spawnGateway(serveArgs(space));
    const c = (await createExternal(gw.url, { code: "ext", runtime: "external" })).body.connection;
    for (const action of ["start", "stop", "restart"]) {
      const answer = await request<{ detail: string }>(`${gw.url}/_gateway/providers/ext/${action}`, {
        method: "POST",
      });
      expect(answer.status).toBe(501);
      expect(answer.body.detail).toContain("external");
    }
    expect((await request(`${gw.url}/_gateway/providers/ext/logs`)).status).toBe(501);
    expect((await request(`${gw.url}/_gateway/providers/local`, { method: "DELETE" })).status).toBe(409);
    expect((await request(`${gw.url}/_gateway/providers/ext`, { method: "DELETE" })).status).toBe(204);
    expect((await request(`${gw.url}/_gateway/providers/ext`)).status).toBe(404);
    expect((await agentCall(c.heartbeat_endpoint, c.auth_token)).status).toBe(401);
    expect(readFileSync(join(space.providersDir, "registry.yaml"), "utf8")).not.toContain("code: ext");
  });

  test("a gateway restarted while its agent runs resumes it ready without a new register", async () => {
    const space = makeSpace();
    const agent = await startAgent(space);
    const first = await spawnGateway(serveArgs(space));
    const c = (await createExternal(first.url, { code: "kept", runtime: "external" })).body.connection;
    await agentCall(c.register_endpoint, c.auth_token, { url: agent.url });
    first.proc.kill("SIGTERM");
    await first.exited;
    const second = await spawnGateway(serveArgs(space));
    await waitForStatus(second.url, "kept", "ready", 10_000);
    expect((await request<Echo>(`${second.url}/api/v1/kept/x`)).body.path).toBe("/x");
    // The token still works after the restart (its hash persisted).
    expect((await agentCall(`${second.url}/_gateway/providers/kept/heartbeat`, c.auth_token)).status).toBe(
      200,
    );
  });
});

describe("the registry", () => {
  test("deleted, or overwritten with junk, it never loses an external provider: it is written back, its token still works", async () => {
    const space = makeSpace();
    const gw = await spawnGateway(serveArgs(space));
    const c = (await createExternal(gw.url, { code: "durable", runtime: "external" })).body.connection;
    const file = join(space.providersDir, "registry.yaml");
    rmSync(file);
    await waitFor(
      "the registry to be written back",
      () => existsSync(file) && readFileSync(file, "utf8").includes("code: durable"),
    );
    expect(readFileSync(file, "utf8")).toContain("token_sha256");
    expect((await agentCall(c.heartbeat_endpoint, c.auth_token)).status).toBe(200);
    writeFileSync(file, "providers: [not: a, registry");
    await waitFor("the junk kept aside and the registry written back", () => {
      const kept = readdirSync(space.providersDir).some((name) => name.startsWith("registry.yaml.bad-"));
      return kept && readFileSync(file, "utf8").includes("code: durable");
    });
    expect((await agentCall(c.heartbeat_endpoint, c.auth_token)).status).toBe(200);
    expect(gw.stderr()).toContain("wrote back the external providers this gateway knows (durable)");
  });
});

describe("the admin API is strict", () => {
  test("an unknown field is 400 naming it; not JSON 400; another content type 415; over 64 KiB 413", async () => {
    const space = makeSpace();
    const gw = await spawnGateway(serveArgs(space));
    const post = (body: string, type = "application/json") =>
      request<{ detail: string }>(`${gw.url}/_gateway/providers`, {
        method: "POST",
        headers: { "content-type": type },
        body,
      });
    const unknown = await post(JSON.stringify({ code: "x", runtime: "external", colour: "red" }));
    expect(unknown.status).toBe(400);
    expect(unknown.body.detail).toContain('"colour"');
    expect((await post("{not json")).status).toBe(400);
    expect((await post(JSON.stringify({ code: "x", runtime: "external" }), "text/plain")).status).toBe(415);
    expect(
      (await post(JSON.stringify({ code: "x", runtime: "external", name: "n".repeat(70_000) }))).status,
    ).toBe(413);
    const wrongType = await post(JSON.stringify({ code: 7, runtime: "external" }));
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.detail).toContain('"code"');
  });
});

describe("names and certificates", () => {
  test("every address a name resolves to is checked, and the proxy keeps the address it checked when the name moves (rebinding)", async () => {
    const space = makeSpace();
    const dns = await startDns();
    const agent = await startAgent(space);
    dns.records.set("agent.test", ["127.0.0.1"]);
    dns.records.set("mixed.test", ["127.0.0.1", "169.254.169.254"]);
    const gw = await spawnGateway([...serveArgs(space), "--resolver", dns.address]);
    const c = (await createExternal(gw.url, { code: "named", runtime: "external" })).body.connection;
    const register = (url: string, replace?: boolean) =>
      agentCall(c.register_endpoint, c.auth_token, { url, ...(replace ? { replace } : {}) });
    const mixed = await register(`http://mixed.test:${agent.port}`);
    expect(mixed.status).toBe(422);
    expect(mixed.body.detail).toContain("169.254.169.254");
    expect((await register(`http://missing.test:${agent.port}`)).status).toBe(422);
    expect((await register(`http://agent.test:${agent.port}`)).status).toBe(200);
    // The name now points at the metadata service: traffic still goes to the address checked.
    dns.records.set("agent.test", ["169.254.169.254"]);
    const echo = await request<Echo>(`${gw.url}/api/v1/named/after`);
    expect(echo.status).toBe(200);
    expect(echo.body.path).toBe("/after");
    expect(echo.body.headers.host).toBe(`agent.test:${agent.port}`);
    // A new register resolves again, and is refused.
    const again = await register(`http://agent.test:${agent.port}`, true);
    expect(again.status).toBe(422);
    expect(again.body.detail).toContain("metadata");
  });

  test("an https agent is reached over TLS with its name checked against a CA the gateway trusts; an untrusted one is refused", async () => {
    const space = makeSpace();
    const dir = space.root;
    const run = (args: string[]) => {
      const result = Bun.spawnSync(["openssl", ...args], { cwd: dir, stdout: "ignore", stderr: "pipe" });
      if (result.exitCode !== 0) throw new Error(result.stderr.toString());
    };
    run([
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-subj",
      "/CN=Test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign",
    ]);
    run([
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "agent.key",
      "-out",
      "agent.csr",
      "-subj",
      "/CN=localhost",
    ]);
    writeFileSync(join(dir, "ext.cnf"), "subjectAltName=DNS:localhost\n");
    run([
      "x509",
      "-req",
      "-in",
      "agent.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "agent.crt",
      "-days",
      "1",
      "-extfile",
      "ext.cnf",
    ]);
    const seen: Array<Record<string, string>> = [];
    const agent = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: {
        cert: readFileSync(join(dir, "agent.crt"), "utf8"),
        key: readFileSync(join(dir, "agent.key"), "utf8"),
      },
      fetch(request) {
        seen.push(Object.fromEntries(request.headers));
        return Response.json({ path: new URL(request.url).pathname, secure: true });
      },
    });
    onCleanup(() => agent.stop(true));
    const trusting = await spawnGateway(serveArgs(space), {
      env: { NODE_EXTRA_CA_CERTS: join(dir, "ca.crt") },
    });
    const c = (await createExternal(trusting.url, { code: "secure", runtime: "external" })).body.connection;
    const registered = await agentCall(c.register_endpoint, c.auth_token, {
      url: `https://localhost:${agent.port}/base`,
    });
    expect(registered.status).toBe(200);
    const answer = await request<{ path: string; secure: boolean }>(`${trusting.url}/api/v1/secure/items`);
    expect(answer.status).toBe(200);
    // The agent URL's path is prefixed; the Host is the agent's name, as its certificate says.
    expect(answer.body).toEqual({ path: "/base/items", secure: true });
    expect(seen.at(-1)!.host).toBe(`localhost:${agent.port}`);

    // A gateway that does not trust the CA refuses to register it.
    const doubting = await spawnGateway(serveArgs(makeSpace()));
    const d = (await createExternal(doubting.url, { code: "secure", runtime: "external" })).body.connection;
    const refused = await agentCall(d.register_endpoint, d.auth_token, {
      url: `https://localhost:${agent.port}/base`,
    });
    expect(refused.status).toBe(422);
    expect(String(refused.body.detail)).toMatch(/certificate|TLS|self.signed|issuer/i);
  });
});
