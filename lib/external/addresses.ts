/**
 * Which addresses an external agent may be reached at, and the one the gateway will connect to.
 * An agent's URL names a host; every address that host resolves to is checked (so a name with
 * one internal address among public ones is refused), and the proxy then connects to the address
 * that was checked, never to a fresh lookup: a name that later resolves elsewhere (DNS
 * rebinding) cannot redirect traffic. Addresses are read with ipaddr.js, not string prefixes.
 */
import type ipaddr from "ipaddr.js";
import { dnsPromises, ipaddrPackage } from "../runtime/packages.ts";

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Cloud metadata services, by address: never an agent, whatever the allow list says. */
const METADATA_ADDRESSES = ["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2"];
let metadata: Address[] | undefined;

/** ipaddr.js ranges that are never an agent's: nobody, everybody, link-local, multicast, reserved. */
const NEVER = new Set([
  "unspecified",
  "broadcast",
  "linkLocal",
  "multicast",
  "reserved",
  "ipv4Mapped",
  "rfc6052",
  "6to4",
  "teredo",
]);
/** Ranges that are local to this machine or network: allowed by default only while the gateway is on loopback. */
const LOCAL = new Set(["loopback", "private", "uniqueLocal", "carrierGradeNat"]);

export interface AllowRules {
  /** CIDRs from --external-allow. */
  ranges: Array<[Address, number]>;
  /** Host names from --external-allow, lower case; `*.example.com` allows its subdomains. */
  names: string[];
  /** No --external-allow and the gateway on loopback: loopback and private addresses are allowed. */
  localByDefault: boolean;
}

/** Thrown when an entry of --external-allow is neither a CIDR, an address nor a host name. */
export class AllowRuleError extends Error {
  override name = "AllowRuleError";
}

/** The rules of `--external-allow` (CIDRs, addresses, host names) for a gateway bound to `gatewayHost`. */
export function allowRules(entries: readonly string[], gatewayOnLoopback: boolean): AllowRules {
  const rules: AllowRules = {
    ranges: [],
    names: [],
    localByDefault: entries.length === 0 && gatewayOnLoopback,
  };
  for (const entry of entries) {
    if (entry.includes("/")) {
      try {
        rules.ranges.push(ipaddrPackage().parseCIDR(entry));
      } catch {
        throw new AllowRuleError(`--external-allow: "${entry}" is not a CIDR such as 10.0.0.0/8`);
      }
    } else if (ipaddrPackage().isValid(entry)) {
      const address = ipaddrPackage().parse(entry);
      rules.ranges.push([address, address.kind() === "ipv4" ? 32 : 128]);
    } else if (/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(entry)) {
      rules.names.push(entry.toLowerCase());
    } else {
      throw new AllowRuleError(`--external-allow: "${entry}" is neither a CIDR, an address nor a host name`);
    }
  }
  return rules;
}

function nameAllowed(host: string, rules: AllowRules): boolean {
  const lower = host.toLowerCase();
  return rules.names.some((name) => (name.startsWith("*.") ? lower.endsWith(name.slice(1)) : lower === name));
}

/**
 * Why `address` (one that `host` resolved to) may not be an agent's, or null when it may. An
 * address in an allowed range is allowed; an allowed host name may resolve to public addresses
 * only (so a trusted name rebound to an internal address is still refused); by default, local
 * addresses are allowed while the gateway runs on loopback. Metadata, link-local, unspecified,
 * multicast and IPv4-mapped IPv6 addresses never are.
 */
export function addressVerdict(text: string, host: string, rules: AllowRules): string | null {
  const ip = ipaddrPackage();
  let address: Address;
  try {
    address = ip.parse(text);
  } catch {
    return `${text} is not an IP address`;
  }
  const range = address.range();
  metadata ??= METADATA_ADDRESSES.map((a) => ip.parse(a));
  if (metadata.some((m) => m.kind() === address.kind() && m.toString() === address.toString())) {
    return `${text} is a cloud metadata address`;
  }
  if (
    NEVER.has(range) ||
    (address.kind() === "ipv4" && (address as ipaddr.IPv4).match(ip.parseCIDR("0.0.0.0/8")))
  ) {
    return `${text} is a ${describe(range)} address, which is never an agent's`;
  }
  if (rules.ranges.some(([base, bits]) => base.kind() === address.kind() && address.match(base, bits)))
    return null;
  if (LOCAL.has(range)) {
    if (rules.localByDefault) return null;
    return `${text} is a ${describe(range)} address: allow it with --external-allow (by default local addresses are allowed only while the gateway itself listens on loopback)`;
  }
  if (nameAllowed(host, rules)) return null;
  return `${text} is not in --external-allow (${[...rules.ranges.map(([a, b]) => `${a}/${b}`), ...rules.names].join(", ") || "empty"})`;
}

function describe(range: string): string {
  const words: Record<string, string> = {
    unspecified: "unspecified",
    broadcast: "broadcast",
    linkLocal: "link-local",
    multicast: "multicast",
    reserved: "reserved",
    ipv4Mapped: "IPv4-mapped IPv6",
    loopback: "loopback",
    private: "private",
    uniqueLocal: "unique local",
    carrierGradeNat: "carrier-grade NAT",
  };
  return words[range] ?? range;
}

/** Resolves a host name to all its addresses. */
export type Resolve = (host: string) => Promise<string[]>;

/**
 * The system's resolver (getaddrinfo: /etc/hosts, then DNS), or, given `server` (`host:port`,
 * `--resolver`), that DNS server alone.
 */
export function resolverFor(server?: string): Resolve {
  if (!server) {
    return async (host) =>
      (await dnsPromises().lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);
  }
  // Made at once: a server setServers refuses stops the start, not the first registration.
  const resolver = new (dnsPromises().Resolver)({ timeout: 2000, tries: 2 });
  resolver.setServers([server]);
  return async (host) => {
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
    const found = [
      ...(v4.status === "fulfilled" ? v4.value : []),
      ...(v6.status === "fulfilled" ? v6.value : []),
    ];
    if (found.length === 0) {
      const reason = v4.status === "rejected" ? (v4.reason as Error).message : "no A or AAAA record";
      throw new Error(`${host} does not resolve (${reason})`);
    }
    return found;
  };
}

/** Where an agent is: its URL's parts, and the address checked and pinned for connecting. */
export interface AgentAddress {
  url: string;
  protocol: "http" | "https";
  /** The URL's host name (for Host, SNI and the certificate check). */
  host: string;
  port: number;
  /** The URL's path without a trailing slash ("" for none): prefixed to every request path. */
  basePath: string;
  /** The checked address the gateway connects to. */
  address: string;
}

/**
 * Checks an agent's URL: `http` or `https`, no credentials, query or fragment; its host resolved
 * (unless it is an address) and every address checked by {@link addressVerdict}. Returns the
 * pinned address, or throws an Error saying what is wrong.
 */
export async function checkAgentUrl(
  text: string,
  rules: AllowRules,
  resolve: Resolve,
): Promise<AgentAddress> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`"${text}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new Error(`the URL must be http or https, not ${url.protocol.slice(0, -1)}`);
  if (url.username || url.password) throw new Error("the URL may not hold credentials");
  if (url.search || url.hash) throw new Error("the URL may not have a query or a fragment");
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  let addresses: string[];
  if (ipaddrPackage().isValid(host)) addresses = [host];
  else {
    try {
      addresses = await resolve(host);
    } catch (error) {
      throw new Error(`${host} does not resolve: ${(error as Error).message}`);
    }
  }
  if (addresses.length === 0) throw new Error(`${host} resolves to no address`);
  for (const address of addresses) {
    const refusal = addressVerdict(address, host, rules);
    if (refusal)
      throw new Error(
        addresses.length > 1 ? `${host} resolves to ${addresses.join(", ")}: ${refusal}` : refusal,
      );
  }
  const protocol = url.protocol === "https:" ? "https" : "http";
  return {
    url: url.toString().replace(/\/$/, ""),
    protocol,
    host,
    port: Number(url.port || (protocol === "https" ? 443 : 80)),
    basePath: url.pathname.replace(/\/+$/, ""),
    address: ipaddrPackage().parse(addresses[0]!).toString(),
  };
}
