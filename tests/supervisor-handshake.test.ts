import { describe, expect, test } from "bun:test";
import { parseHandshake } from "../lib/supervisor/handshake.ts";

function failure(line: string): string {
  const result = parseHandshake(line);
  if (!result || result.ok) throw new Error(`expected a failed handshake for ${line}`);
  return result.error;
}

describe("parseHandshake", () => {
  test("parseHandshake reads a valid handshake line", () => {
    expect(parseHandshake("CORE_PROVIDER|1|http|127.0.0.1:43123")).toEqual({
      ok: true,
      host: "127.0.0.1",
      port: 43123,
    });
  });

  test("parseHandshake accepts localhost and a trailing carriage return", () => {
    expect(parseHandshake("CORE_PROVIDER|1|http|localhost:8081\r")).toEqual({
      ok: true,
      host: "127.0.0.1",
      port: 8081,
    });
  });

  test("parseHandshake refuses another protocol version, naming both versions", () => {
    const error = failure("CORE_PROVIDER|2|http|127.0.0.1:43123");
    expect(error).toContain("version 2");
    expect(error).toContain("version 1");
  });

  test("parseHandshake refuses a protocol other than http", () => {
    expect(failure("CORE_PROVIDER|1|grpc|127.0.0.1:43123")).toContain('"grpc"');
  });

  test.each([
    ["too few fields", "CORE_PROVIDER|1|http"],
    ["too many fields", "CORE_PROVIDER|1|http|127.0.0.1:80|extra"],
    ["just the prefix", "CORE_PROVIDER|"],
  ])("parseHandshake refuses a malformed line with %s", (_, line) => {
    expect(failure(line)).toContain("Malformed handshake");
  });

  test.each([
    ["a non-loopback host", "CORE_PROVIDER|1|http|10.0.0.5:8080"],
    ["port 0", "CORE_PROVIDER|1|http|127.0.0.1:0"],
    ["a port above 65535", "CORE_PROVIDER|1|http|127.0.0.1:70000"],
    ["no port", "CORE_PROVIDER|1|http|127.0.0.1"],
    ["a port that is not a number", "CORE_PROVIDER|1|http|127.0.0.1:http"],
  ])("parseHandshake refuses an address with %s", (_, line) => {
    expect(failure(line)).toContain("address");
  });

  test.each([
    ["an ordinary log line", "listening on :8080"],
    ["an empty line", ""],
    ["a line that mentions the prefix later", "got CORE_PROVIDER|1|http|127.0.0.1:80"],
    ["the prefix in another case", "core_provider|1|http|127.0.0.1:80"],
  ])("parseHandshake ignores %s", (_, line) => {
    expect(parseHandshake(line)).toBeUndefined();
  });
});
