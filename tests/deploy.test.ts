/**
 * What ships for containers: the Kubernetes manifests validate against the Kubernetes schemas
 * (kubernetes-models) and keep the gateway's rules (probes, grace period, token from a Secret,
 * non-root); the compose file builds and mounts what it says; and the image's PID 1 setup (tini,
 * then the gateway) reaps orphaned grandchildren and stops cleanly on SIGTERM, tested outside a
 * container in a PID namespace of its own (no Docker engine runs here).
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { readProcStat } from "../lib/supervisor/ledger.ts";
import {
  addProvider,
  BUN,
  cleanup,
  exitCode,
  fixtureManifest,
  makeSpace,
  REPO_ROOT,
  request,
  spawnGateway,
  waitForStatus,
} from "./helpers.ts";

setDefaultTimeout(60_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
};

/** The kubernetes-models class of a manifest, by apiVersion and kind. */
async function modelOf(doc: Manifest): Promise<new (data: unknown) => { validate(): void }> {
  const group = doc.apiVersion.includes("/") ? doc.apiVersion : `${doc.apiVersion}`;
  const module = (await import(`kubernetes-models/${group}`)) as Record<
    string,
    new (
      data: unknown,
    ) => { validate(): void }
  >;
  const model = module[doc.kind];
  if (!model) throw new Error(`kubernetes-models has no ${doc.kind} in ${doc.apiVersion}`);
  return model;
}

describe("deploy/", () => {
  test("the Kubernetes sidecar manifests validate against the Kubernetes schemas and keep the gateway's rules", async () => {
    const text = readFileSync(join(REPO_ROOT, "deploy", "kubernetes", "gateway-sidecar.yaml"), "utf8");
    const docs = parseAllDocuments(text).map((doc) => doc.toJS() as Manifest);
    expect(docs.map((doc) => doc.kind)).toEqual(["Secret", "PersistentVolumeClaim", "Deployment", "Service"]);
    for (const doc of docs) {
      const Model = await modelOf(doc);
      expect(() => new Model(doc).validate()).not.toThrow();
    }
    // A model that did not check would accept anything: it must refuse a broken Deployment.
    const Deployment = await modelOf(docs[2]!);
    expect(() => new Deployment({ ...docs[2], spec: { replicas: "two" } }).validate()).toThrow();

    const pod = (docs[2]!.spec!.template as { spec: Record<string, unknown> }).spec as {
      terminationGracePeriodSeconds: number;
      securityContext: { runAsNonRoot: boolean };
      containers: Array<{
        name: string;
        readinessProbe: { httpGet: { path: string } };
        livenessProbe: { httpGet: { path: string } };
        env: Array<{ name: string; valueFrom?: { secretKeyRef: { name: string } } }>;
        volumeMounts: Array<{ mountPath: string }>;
      }>;
    };
    const gateway = pod.containers.find((c) => c.name === "gateway")!;
    expect(gateway.readinessProbe.httpGet.path).toBe("/readyz");
    expect(gateway.livenessProbe.httpGet.path).toBe("/healthz");
    // Above the drain (10 s) and the default provider stop_timeout (10 s) together.
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(20);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(gateway.env.find((e) => e.name === "GATEWAY_ADMIN_TOKEN")?.valueFrom?.secretKeyRef.name).toBe(
      "gateway-admin",
    );
    expect(gateway.volumeMounts.map((m) => m.mountPath)).toContain("/providers");
  });

  test("the dial-out agent's manifests validate and take the token from a Secret, with no port to reach", async () => {
    const text = readFileSync(join(REPO_ROOT, "deploy", "kubernetes", "agent.yaml"), "utf8");
    const docs = parseAllDocuments(text).map((doc) => doc.toJS() as Manifest);
    expect(docs.map((doc) => doc.kind)).toEqual(["Secret", "Deployment"]);
    for (const doc of docs) {
      const Model = await modelOf(doc);
      expect(() => new Model(doc).validate()).not.toThrow();
    }
    const pod = (docs[1]!.spec!.template as { spec: Record<string, unknown> }).spec as {
      terminationGracePeriodSeconds: number;
      containers: Array<{
        command: string[];
        args: string[];
        ports?: unknown[];
        env: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef: { name: string } } }>;
      }>;
    };
    const agent = pod.containers[0]!;
    // The image's entrypoint runs a gateway: the agent's command replaces it.
    expect(agent.command.slice(-2)).toEqual(["/usr/local/bin/gateway", "agent"]);
    expect(readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8")).toContain(
      '"/usr/bin/tini", "--", "/usr/local/bin/gateway"',
    );
    expect(agent.ports).toBeUndefined();
    expect(agent.env.find((e) => e.name === "GATEWAY_AGENT_TOKEN")?.valueFrom?.secretKeyRef.name).toBe(
      "orders-agent-token",
    );
    expect(agent.env.map((e) => e.name).sort()).toEqual([
      "GATEWAY_AGENT_GATEWAY",
      "GATEWAY_AGENT_TOKEN",
      "GATEWAY_AGENT_UPSTREAM",
    ]);
    // Above the agent's drain.
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(30);
  });

  test("the compose file builds the image from the repository and mounts the providers dir", () => {
    const compose = parseYaml(readFileSync(join(REPO_ROOT, "deploy", "compose.yaml"), "utf8")) as {
      services: Record<
        string,
        {
          build: { context: string };
          volumes: string[];
          stop_grace_period: string;
          depends_on: Record<string, { condition: string }>;
        }
      >;
    };
    const gateway = compose.services.gateway!;
    expect(gateway.build.context).toBe("..");
    expect(gateway.volumes).toContain("./providers:/providers");
    expect(gateway.stop_grace_period).toBe("30s");
    expect(compose.services.app!.depends_on.gateway?.condition).toBe("service_healthy");
    const dockerfile = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8");
    expect(dockerfile).toContain("USER gateway");
    expect(dockerfile).toContain("HEALTHCHECK");
    expect(dockerfile).toMatch(/ENTRYPOINT \["\/usr\/bin\/tini", "--", "\/usr\/local\/bin\/gateway"/);
  });
});

describe("PID 1, as in the image", () => {
  test("under tini in its own PID namespace, orphaned grandchildren are reaped and SIGTERM stops everything with exit 0", async () => {
    const space = makeSpace();
    addProvider(
      space,
      "orphaner",
      fixtureManifest("orphaner", { binary: "reparent.sh" }, { env: { FIXTURE_BUN: BUN } }),
      { fixtures: ["reparent.sh", "echo.ts"] },
    );
    const gw = await spawnGateway(["--providers-dir", space.providersDir, "--port", "0"], {
      cmd: [
        "unshare",
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "/usr/bin/tini",
        "--",
        BUN,
        join(REPO_ROOT, "main.ts"),
      ],
    });
    await waitForStatus(gw.url, "orphaner", "ready");
    expect((await request(`${gw.url}/api/v1/orphaner/x`)).status).toBe(200);
    // tini is unshare's child (PID 1 inside), the gateway tini's.
    const tini = childrenOf(gw.proc.pid)[0]!;
    const gateway = childrenOf(tini)[0]!;
    expect(readFileSync(`/proc/${tini}/cmdline`, "utf8")).toContain("tini");
    // The two sleeps were reparented to PID 1 and end after 0.2 and 0.3 s: nothing may stay a zombie.
    await Bun.sleep(800);
    const zombies = [tini, gateway].flatMap((parent) =>
      childrenOf(parent).filter((pid) => readProcStat(pid)?.state === "Z"),
    );
    expect(zombies).toEqual([]);

    process.kill(tini, "SIGTERM");
    expect(await exitCode(gw, 30_000)).toBe(0);
    expect(gw.stderr()).toContain("SIGTERM: stopping");
  });
});

/** The pids whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    if (readProcStat(Number(entry))?.ppid === pid) children.push(Number(entry));
  }
  return children;
}
