/**
 * Provider tokens: what an external agent authenticates with. `gwp_` + 22 base62 characters of
 * randomness (131 bits) + a 6-character checksum of them, so a token with a typo is told apart
 * from a wrong one without any lookup. Only the SHA-256 hash is kept (in the registry); a token
 * is found by its hash and compared in constant time. Tokens are never logged.
 */
import { nodeCrypto } from "../runtime/packages.ts";

const PREFIX = "gwp_";
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_CHARS = 22;
const CHECKSUM_CHARS = 6;
const TOKEN = new RegExp(`^${PREFIX}[0-9A-Za-z]{${RANDOM_CHARS + CHECKSUM_CHARS}}$`);

function base62(bytes: Uint8Array, length: number): string {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let out = "";
  for (let i = 0; i < length; i++) {
    out = ALPHABET[Number(value % 62n)]! + out;
    value /= 62n;
  }
  return out;
}

/** The checksum of a token's random part: the first bytes of its SHA-256, in base62. */
function checksum(random: string): string {
  return base62(
    nodeCrypto().createHash("sha256").update(`${PREFIX}${random}`).digest().subarray(0, 6),
    CHECKSUM_CHARS,
  );
}

/** A new provider token. */
export function mintToken(): string {
  // 17 random bytes hold the 22 base62 characters' 131 bits.
  const random = base62(nodeCrypto().randomBytes(17), RANDOM_CHARS);
  return `${PREFIX}${random}${checksum(random)}`;
}

/** What a presented token looks like before any lookup. */
export type TokenShape = "valid" | "malformed" | "checksum";

/** Whether `token` has the shape of a provider token and its checksum agrees. */
export function tokenShape(token: string): TokenShape {
  if (!TOKEN.test(token)) return "malformed";
  const random = token.slice(PREFIX.length, PREFIX.length + RANDOM_CHARS);
  const sum = token.slice(PREFIX.length + RANDOM_CHARS);
  return sum === checksum(random) ? "valid" : "checksum";
}

/** The hash the registry keeps of a token (hex SHA-256). */
export function hashToken(token: string): string {
  return nodeCrypto().createHash("sha256").update(token).digest("hex");
}

/** Compares two hex hashes in constant time. */
export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === right.length && left.length > 0 && nodeCrypto().timingSafeEqual(left, right);
}

/** Compares a secret with another in constant time, whatever their lengths (by their hashes). */
export function sameSecret(given: string, expected: string): boolean {
  return sameHash(hashToken(given), hashToken(expected));
}
