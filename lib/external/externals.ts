/**
 * The gateway's external providers ("bring your own compute"), as one job: creating and
 * deleting them (in the registry, under its lock), minting and rotating their tokens (only the
 * hashes are kept), authenticating their agents (constant time, failures rate-limited per client
 * address, 401s that never say which part was wrong), the connection block handed to an
 * operator, and the one heartbeat timer. Each provider's own life is ./provider.ts.
 */
import type { Config } from "../config.ts";
import type { DiscoveredProvider } from "../discovery.ts";
import type { Logger } from "../logger.ts";
import { parseManifest } from "../manifest.ts";
import { namespaceConflict } from "../namespaces.ts";
import type { Registry, RegistryEntry } from "../registry.ts";
import type { StatusEvent } from "../supervisor/status.ts";
import { type AllowRules, allowRules, type Resolve } from "./addresses.ts";
import { DEFAULT_HEARTBEAT_MS, ExternalProvider } from "./provider.ts";
import { hashToken, mintToken, sameHash, tokenShape } from "./tokens.ts";

/** How long the token a rotation replaced stays valid, so a running agent picks up the new one. */
export const TOKEN_OVERLAP_MS = 10 * 60 * 1000;
/** Failed authentications one client address may make per window before 429. */
const MAX_FAILURES = 10;
const FAILURE_WINDOW_MS = 60_000;
const CODE = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** What creating an external provider takes (`POST /_gateway/providers`, already validated). */
export interface CreateRequest {
  code: string;
  runtime: string;
  name?: string;
  namespace?: string;
  url?: string;
  heartbeat_interval?: number;
  health_path?: string;
}

/** The connection block of contract §5: everything an agent's operator needs, the token once. */
export interface Connection {
  provider_code: string;
  gateway_url: string;
  auth_token: string;
  register_endpoint: string;
  heartbeat_endpoint: string;
  tunnel_endpoint: string;
  heartbeat_interval: number;
  curl_register: string;
  agent_command: string;
}

/** A failure the HTTP layer answers: status and detail (and headers). */
export class ExternalError extends Error {
  override name = "ExternalError";
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** What the manager needs of the gateway. */
export interface ExternalHost {
  config: Config;
  registry: Registry;
  logger: Logger;
  onStatus: (event: StatusEvent) => void;
  resolve: Resolve;
  /** The gateway's own URL (the listener's). */
  url(): string;
  /** Codes and namespaces of every provider the gateway knows now, mounted or not. */
  taken(): Array<{ code: string; namespace: string; external: boolean; mounted: boolean }>;
  /** The keeper of `code`, when it is an external provider. */
  keeper(code: string): ExternalProvider | undefined;
  /** Applies the registry's change: entries appear or go. */
  reload(): Promise<void>;
}

export class ExternalProviders {
  readonly #host: ExternalHost;
  readonly #rules: AllowRules;
  /** Failed authentications by client address: count and the window's end. */
  readonly #failures = new Map<string, { count: number; until: number }>();
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Told of every rotation while it happens (a live tunnel hands the new token to its agent). */
  onRotate: (code: string, token: string) => void = () => {};

  constructor(host: ExternalHost) {
    this.#host = host;
    const { config } = host;
    this.#rules = allowRules(config.externalAllow, isLoopbackHost(config.host));
  }

  /** The external providers the registry holds that no directory defines (those made over the API). */
  definitions(discovered: ReadonlySet<string>): DiscoveredProvider[] {
    const found: DiscoveredProvider[] = [];
    for (const entry of this.#host.registry.list()) {
      if (!entry.external || entry.source || discovered.has(entry.code)) continue;
      const file = this.#host.registry.file;
      const { manifest } = parseManifest(
        JSON.stringify({
          code: entry.code,
          name: entry.external.name,
          namespace: entry.external.namespace,
          runtime: "external",
        }),
        file,
      );
      found.push({ manifest, dir: "", file });
    }
    return found;
  }

  /** The keeper of an external provider, its settings from the registry. */
  keeper(discovered: DiscoveredProvider, enabled: boolean): ExternalProvider {
    const { code } = discovered.manifest;
    const record = this.#host.registry.get(code)?.external;
    return new ExternalProvider(
      discovered.manifest,
      {
        logger: this.#host.logger,
        onStatus: this.#host.onStatus,
        rules: () => this.#rules,
        resolve: this.#host.resolve,
        save: (patch) => this.#update(code, patch),
      },
      { heartbeatIntervalMs: record?.heartbeat_interval_ms, healthPath: record?.health_path },
      { initialStatus: enabled ? "awaiting_agent" : "stopped" },
    );
  }

  /** Starts the heartbeat timer, and probes each agent at its last URL to resume without a register. */
  start(keepers: Iterable<ExternalProvider>): void {
    for (const keeper of keepers) {
      const url = this.#host.registry.get(keeper.code)?.external?.url;
      if (url && keeper.status === "awaiting_agent") void keeper.resume(url);
    }
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      const now = Date.now();
      for (const { code } of this.#host.taken()) this.#host.keeper(code)?.check(now);
    }, 250);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** `POST /_gateway/providers`: a new external provider, and its connection block (the token shown once). */
  async create(request: CreateRequest): Promise<{ code: string; connection: Connection }> {
    if (request.runtime !== "external") {
      throw new ExternalError(
        501,
        `Only runtime "external" can be created over the API (got "${request.runtime}"); local providers come from a directory in the providers dir`,
      );
    }
    const { code } = request;
    if (!CODE.test(code))
      throw new ExternalError(400, `Field "code" must match ^[a-z0-9][a-z0-9-]{0,62}$: ${code}`);
    const namespace = request.namespace ?? `/api/v1/${code}`;
    const others = this.#host.taken();
    if (others.some((other) => other.code === code) || this.#host.registry.get(code)) {
      throw new ExternalError(
        409,
        `A provider "${code}" exists already; DELETE /_gateway/providers/${code} first, or choose another code`,
      );
    }
    const conflict = namespaceConflict(
      namespace,
      others.filter((other) => other.mounted),
    );
    if (conflict) throw new ExternalError(409, `Cannot create provider "${code}": ${conflict}`);
    const intervalMs =
      request.heartbeat_interval === undefined
        ? DEFAULT_HEARTBEAT_MS
        : Math.round(request.heartbeat_interval * 1000);
    const token = mintToken();
    this.#host.registry.update((registry) => {
      // Checked again under the lock: two creates of one code at once make one provider.
      if (registry.get(code)) throw new ExternalError(409, `A provider "${code}" exists already`);
      const entry: RegistryEntry = {
        code,
        enabled: true,
        installed_at: new Date().toISOString(),
        external: {
          token_sha256: hashToken(token),
          name: request.name,
          namespace: request.namespace,
          heartbeat_interval_ms: intervalMs,
          health_path: request.health_path,
        },
      };
      registry.put(entry);
    });
    this.#host.logger.info(`Created external provider "${code}" at ${namespace}`, { provider: code });
    await this.#host.reload();
    if (request.url) {
      const outcome = await this.#host.keeper(code)?.register(request.url);
      if (outcome && !outcome.ok) {
        // Created, but the agent it named does not answer: say so, and leave it awaiting one.
        this.#host.keeper(code)?.note(outcome.message);
        throw new ExternalError(
          outcome.status === 409 ? 409 : 422,
          `Provider "${code}" was created, awaiting an agent, but ${outcome.message}`,
        );
      }
    }
    return { code, connection: this.connection(code, token, intervalMs) };
  }

  /** `DELETE /_gateway/providers/:code`: removes an external provider made over the API, and its tokens. */
  async remove(code: string): Promise<void> {
    const entry = this.#host.registry.get(code);
    const known = this.#host.taken().find((other) => other.code === code);
    if (!known && !entry?.external)
      throw new ExternalError(404, `No provider "${code}"; GET /_gateway/providers lists them`);
    if (!known?.external || entry?.source) {
      throw new ExternalError(
        409,
        `Provider "${code}" comes from a directory in the providers dir: remove that directory, or run gateway providers remove ${code}`,
      );
    }
    this.#host.registry.update((registry) => {
      registry.remove(code);
    });
    this.#host.logger.info(`Deleted external provider "${code}"`, { provider: code });
    await this.#host.reload();
  }

  /**
   * `POST /_gateway/providers/:code/token`: a new token; the one it replaces stays valid for
   * `overlapMs` (default TOKEN_OVERLAP_MS, 10 min), so an agent that is running picks up the new
   * one without a 401 loop; 0 revokes it at once.
   */
  rotate(code: string, overlapMs = TOKEN_OVERLAP_MS): { token: string; previousExpiresAt: string | null } {
    if (!this.#host.keeper(code)) {
      const known = this.#host.taken().some((other) => other.code === code);
      throw new ExternalError(
        known ? 409 : 404,
        known ? `Provider "${code}" is not external: it has no token` : `No provider "${code}"`,
      );
    }
    const token = mintToken();
    let previousExpiresAt: string | null = null;
    this.#host.registry.update((registry) => {
      const entry = registry.get(code);
      if (!entry) throw new ExternalError(404, `No provider "${code}" in the registry`);
      const current = entry.external?.token_sha256;
      previousExpiresAt = current ? new Date(Date.now() + overlapMs).toISOString() : null;
      registry.put({
        ...entry,
        external: {
          ...entry.external,
          token_sha256: hashToken(token),
          previous_token_sha256: current,
          previous_expires_at: previousExpiresAt ?? undefined,
        },
      });
    });
    this.#host.logger.info(`Minted a new token for provider "${code}"`, { provider: code });
    this.onRotate(code, token);
    return { token, previousExpiresAt };
  }

  /**
   * Whether `authorization` (the header) holds a valid token of provider `code`. Throws an
   * ExternalError: 429 while `client` has failed too often, 401 (always the same words) otherwise.
   */
  authenticate(code: string, authorization: string | undefined, client: string): ExternalProvider {
    const now = Date.now();
    const failures = this.#failures.get(client);
    if (failures && failures.until > now && failures.count >= MAX_FAILURES) {
      const seconds = Math.ceil((failures.until - now) / 1000);
      throw new ExternalError(
        429,
        `Too many failed authentications from this address; try again in ${seconds} s`,
        {
          "retry-after": String(seconds),
        },
      );
    }
    const token = /^Bearer (\S+)$/.exec(authorization ?? "")?.[1] ?? "";
    const keeper = this.#host.keeper(code);
    const why = this.#tokenProblem(code, token, now);
    if (keeper && why === null) return keeper;
    // The reason goes to the operator's log, never to the client (nor does the token).
    this.#host.logger.info(
      `Refused a provider token for "${code}" from ${client || "?"}: ${keeper ? why : "no such external provider"}`,
      {
        provider: code,
      },
    );
    const window = failures && failures.until > now ? failures : { count: 0, until: now + FAILURE_WINDOW_MS };
    window.count++;
    this.#failures.set(client, window);
    if (this.#failures.size > 10_000) this.#forgetOldFailures(now);
    throw new ExternalError(
      401,
      `This route needs Authorization: Bearer <provider token> of provider "${code}"`,
      {
        "www-authenticate": 'Bearer realm="gateway-provider"',
      },
    );
  }

  /**
   * Like {@link authenticate}, for an agent that does not say which provider it serves (a dial-out
   * agent knows only its token): the provider whose token it is. The same 401 and 429 otherwise.
   */
  authenticateAny(authorization: string | undefined, client: string): ExternalProvider {
    const token = /^Bearer (\S+)$/.exec(authorization ?? "")?.[1] ?? "";
    const now = Date.now();
    if (tokenShape(token) === "valid") {
      for (const { code, external } of this.#host.taken()) {
        if (external && this.#tokenProblem(code, token, now) === null)
          return this.authenticate(code, authorization, client);
      }
    }
    // No provider has it: refused (and counted) as any wrong token is.
    return this.authenticate("-", authorization, client);
  }

  /** The connection block for a token just minted. */
  connection(code: string, token: string, intervalMs?: number): Connection {
    const base = (this.#host.config.publicUrl ?? this.#host.url()).replace(/\/+$/, "");
    const endpoint = (what: string) => `${base}/_gateway/providers/${code}/${what}`;
    const interval =
      (intervalMs ?? this.#host.registry.get(code)?.external?.heartbeat_interval_ms ?? DEFAULT_HEARTBEAT_MS) /
      1000;
    return {
      provider_code: code,
      gateway_url: base,
      auth_token: token,
      register_endpoint: endpoint("register"),
      heartbeat_endpoint: endpoint("heartbeat"),
      tunnel_endpoint: endpoint("tunnel").replace(/^http/, "ws"),
      heartbeat_interval: interval,
      curl_register: `curl -fsS -X POST -H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json' --data "{\\"url\\":\\"$AGENT_URL\\"}" '${endpoint("register")}'`,
      agent_command: `gateway agent --gateway '${base}' --token '${token}' --upstream 'http://127.0.0.1:PORT'`,
    };
  }

  #tokenProblem(code: string, token: string, now: number): string | null {
    const shape = tokenShape(token);
    if (shape === "malformed") return token ? "not a provider token (gwp_…)" : "no Bearer token";
    if (shape === "checksum") return "the token's checksum does not match (a typo?)";
    const record = this.#host.registry.get(code)?.external;
    const hash = hashToken(token);
    if (record?.token_sha256 && sameHash(hash, record.token_sha256)) return null;
    const previousValid = record?.previous_expires_at && Date.parse(record.previous_expires_at) > now;
    if (record?.previous_token_sha256 && sameHash(hash, record.previous_token_sha256)) {
      return previousValid ? null : "a token that was rotated out and whose overlap has ended";
    }
    return "not this provider's token";
  }

  #update(code: string, patch: Partial<NonNullable<RegistryEntry["external"]>>): void {
    try {
      this.#host.registry.update((registry) => {
        const entry = registry.get(code);
        if (entry) registry.put({ ...entry, external: { ...entry.external, ...patch } });
      });
    } catch (error) {
      this.#host.logger.error(`Cannot record the agent of provider "${code}": ${(error as Error).message}`, {
        provider: code,
      });
    }
  }

  #forgetOldFailures(now: number): void {
    for (const [client, window] of this.#failures) if (window.until <= now) this.#failures.delete(client);
  }
}

function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}
