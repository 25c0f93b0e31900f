/** The value of `CORE_PROVIDER_MAGIC_COOKIE` a provider receives (go-plugin style). */
export const MAGIC_COOKIE = "core-provider-v1";
export const HANDSHAKE_PREFIX = "CORE_PROVIDER|";
const SUPPORTED_VERSION = "1";

export type Handshake = { ok: true; host: string; port: number } | { ok: false; error: string };

/**
 * Parses the optional first stdout line `CORE_PROVIDER|1|http|127.0.0.1:PORT`, through which a
 * provider announces the port it chose itself. Returns `undefined` for an ordinary line.
 */
export function parseHandshake(line: string): Handshake | undefined {
  if (!line.startsWith(HANDSHAKE_PREFIX)) return undefined;
  const parts = line.trim().split("|");
  if (parts.length !== 4) {
    return {
      ok: false,
      error: `Malformed handshake line (want CORE_PROVIDER|1|http|127.0.0.1:PORT): ${line}`,
    };
  }
  const [, version, protocol, address] = parts as [string, string, string, string];
  if (version !== SUPPORTED_VERSION) {
    return {
      ok: false,
      error: `Handshake protocol version ${version} is not supported; this gateway speaks version ${SUPPORTED_VERSION}`,
    };
  }
  if (protocol !== "http")
    return { ok: false, error: `Handshake protocol "${protocol}" is not supported; use http` };
  const match = /^(127\.0\.0\.1|localhost):(\d{1,5})$/.exec(address);
  const port = match ? Number(match[2]) : 0;
  if (!match || port < 1 || port > 65535) {
    return { ok: false, error: `Handshake address must be 127.0.0.1:PORT: ${address}` };
  }
  return { ok: true, host: "127.0.0.1", port };
}
