/**
 * TLS on the listener: `--tls-cert` and `--tls-key` make the byte-level front speak HTTPS
 * (providers see `X-Forwarded-Proto: https`); a renewed certificate is taken when its files
 * change or on SIGHUP, a bad one is refused while the old one serves on; binding beyond loopback
 * without TLS is warned about. Certificates are made with openssl for each test.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:tls";
import {
  addEchoProvider,
  cleanup,
  DENO_GATEWAY,
  makeSpace,
  readAfterPause,
  runCli,
  type Space,
  serveArgs,
  spawnGateway,
  waitFor,
} from "./helpers.ts";

setDefaultTimeout(60_000);

afterEach(async () => {
  expect(await cleanup()).toEqual([]);
});

/** A self-signed certificate for 127.0.0.1 in `dir`; returns its files and its serial number. */
function makeCertificate(dir: string, name: string): { cert: string; key: string; serial: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const made = Bun.spawnSync(
    [
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-keyout",
      key,
      "-out",
      cert,
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdout: "ignore", stderr: "pipe" },
  );
  if (made.exitCode !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`);
  const serial = Bun.spawnSync(["openssl", "x509", "-in", cert, "-noout", "-serial"])
    .stdout.toString()
    .trim();
  return { cert, key, serial: serial.replace(/^serial=/, "").toUpperCase() };
}

/** The serial number of the certificate the server at `url` presents now. */
function servedSerial(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().serialNumber.toUpperCase());
      socket.destroy();
    });
    socket.on("error", reject);
  });
}

async function gatewayWithTls(space: Space, cmd?: string[]) {
  const first = makeCertificate(space.root, "first");
  // Fixed names the operator's tooling would renew in place.
  const cert = join(space.root, "tls.crt");
  const key = join(space.root, "tls.key");
  writeFileSync(cert, readFileSync(first.cert));
  writeFileSync(key, readFileSync(first.key));
  addEchoProvider(space, "echo");
  const gw = await spawnGateway([...serveArgs(space), "--tls-cert", cert, "--tls-key", key], { cmd });
  return { gw, cert, key, first };
}

describe("TLS on the listener", () => {
  test("the listener speaks HTTPS, says so in its URL, and providers see X-Forwarded-Proto https", async () => {
    const space = makeSpace();
    const { gw, first } = await gatewayWithTls(space);
    expect(gw.url).toStartWith("https://127.0.0.1:");
    const ca = readFileSync(first.cert, "utf8");
    const answer = await waitFor("the provider through HTTPS", async () => {
      const response = await fetch(`${gw.url}/api/v1/echo/x`, { tls: { ca } } as RequestInit);
      return response.status === 200 && ((await response.json()) as { headers: Record<string, string> });
    });
    expect(answer.headers["x-forwarded-proto"]).toBe("https");
    expect(await servedSerial(gw.url)).toBe(first.serial);
    // Plain HTTP on the same port is no request the gateway answers.
    const plain = await fetch(`${gw.url.replace("https:", "http:")}/healthz`).then(
      (r) => r.status,
      () => "refused",
    );
    expect(plain).not.toBe(200);
  });

  test("over HTTPS, a client that stops reading under 4,000 pipelined requests gets every answer whole and in order once it reads", async () => {
    // Answers pile up while the reader is paused: what the TLS socket took and what waits in the
    // gateway's outbox must both go out whole and in order once it reads.
    const space = makeSpace();
    const { gw } = await gatewayWithTls(space);
    const { hostname, port } = new URL(gw.url);
    await waitFor("the provider through HTTPS", async () => {
      const response = await fetch(`${gw.url}/api/v1/echo/x`, {
        tls: { rejectUnauthorized: false },
      } as RequestInit);
      return response.status === 200;
    });
    const count = 4_000;
    let burst = "";
    for (let i = 0; i < count; i++)
      burst += `GET /api/v1/echo/n${i} HTTP/1.1\r\nHost: gateway.test\r\n${i === count - 1 ? "Connection: close\r\n" : ""}\r\n`;
    const socket = connect({ host: hostname, port: Number(port), rejectUnauthorized: false });
    try {
      await new Promise<void>((resolve) => socket.once("secureConnect", () => resolve()));
      const responses = await readAfterPause(socket, burst, 1500);
      expect(responses.filter((response) => response.status !== 200).length).toBe(0);
      expect(responses.map((response) => response.json<{ path: string }>().path)).toEqual(
        Array.from({ length: count }, (_, i) => `/n${i}`),
      );
    } finally {
      socket.destroy();
    }
  });

  test("a renewed certificate is taken when its files change and on SIGHUP; a bad one is refused and the old one kept", async () => {
    const space = makeSpace();
    const { gw, cert, key, first } = await gatewayWithTls(space);
    expect(await servedSerial(gw.url)).toBe(first.serial);

    // Renewed in place, as certbot or cert-manager would (written aside, renamed over).
    const second = makeCertificate(space.root, "second");
    writeFileSync(`${key}.new`, readFileSync(second.key));
    writeFileSync(`${cert}.new`, readFileSync(second.cert));
    renameSync(`${key}.new`, key);
    renameSync(`${cert}.new`, cert);
    await waitFor(
      "the renewed certificate to be served",
      async () => (await servedSerial(gw.url)) === second.serial,
    );

    // A broken certificate is refused; the one in use stays.
    writeFileSync(cert, "not a certificate");
    gw.proc.kill("SIGHUP");
    await waitFor("the refusal to be logged", () =>
      gw.stderr().includes("Keeping the TLS certificate in use"),
    );
    expect(await servedSerial(gw.url)).toBe(second.serial);

    // Fixed, and applied on SIGHUP too.
    const third = makeCertificate(space.root, "third");
    writeFileSync(key, readFileSync(third.key));
    writeFileSync(cert, readFileSync(third.cert));
    gw.proc.kill("SIGHUP");
    await waitFor(
      "the third certificate to be served",
      async () => (await servedSerial(gw.url)) === third.serial,
    );
  });

  test("under Deno without --unstable-net, HTTPS is served and a reload says why the old certificate stays", async () => {
    const space = makeSpace();
    const withoutFlag = DENO_GATEWAY.filter((arg) => arg !== "--unstable-net");
    const { gw, cert, key, first } = await gatewayWithTls(space, withoutFlag);
    expect(await servedSerial(gw.url)).toBe(first.serial);
    const second = makeCertificate(space.root, "second");
    writeFileSync(key, readFileSync(second.key));
    writeFileSync(cert, readFileSync(second.cert));
    gw.proc.kill("SIGHUP");
    await waitFor("the refusal to be logged", () => gw.stderr().includes("run deno with --unstable-net"));
    expect(gw.stderr()).toContain("Keeping the TLS certificate in use");
    expect(await servedSerial(gw.url)).toBe(first.serial);
    const ca = readFileSync(first.cert, "utf8");
    const through = await fetch(`${gw.url}/api/v1/echo/x`, { tls: { ca } } as RequestInit);
    expect(through.status).toBe(200);
  });

  test("binding beyond loopback without TLS is warned about; --tls-cert without --tls-key is a usage error", async () => {
    const space = makeSpace();
    const gw = await spawnGateway([
      "--providers-dir",
      space.providersDir,
      "--port",
      "0",
      "--host",
      "0.0.0.0",
    ]);
    await waitFor("the warning", () => gw.stderr().includes("without TLS"));
    const half = await runCli(["--tls-cert", join(space.root, "x.crt")]);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain("--tls-key");
  });
});
