/**
 * The shared helpers of the integration tests, re-exported from tests/support/, one job a module:
 *
 * - `sandbox.ts`: a test's temp dir and marker (`makeSpace`, `Space`), writing a provider into it
 *   (`addProvider`, `manifestYaml`), and the one registry of what to stop (`onCleanup`, `cleanup`).
 * - `providers.ts`: the fixture providers of tests/fixtures/: `fixtureManifest` (the one manifest
 *   builder), `echoManifest`, `addEchoProvider`, `addWireProvider`, `addGrandchildProvider`, and
 *   `WireEcho`, `WireState` (what the wire fixture answers).
 * - `gateways.ts`: gateways in this process (`testConfig`, `startInProcess`, `startWithSibling`)
 *   or as subprocesses (`spawnGateway`, `serveArgs`, `runCli`), `isFreshBuild` for `./gateway`.
 * - `http.ts`: `request`, and the admin API: `getProvider(s)`, `waitForStatus`, `providerLogs`,
 *   `transitionsOf`, `waitForRefused`.
 * - `wire.ts`: the one raw-socket client, `WireClient`, and on it `wireExchange`, `rawStatus`,
 *   `acceptsConnections`.
 * - `procs.ts`: /proc scans for the processes a test started: `markedProcesses`, `isAlive`,
 *   `leftoverProcesses`, `procStat`.
 * - `wait.ts`: bounded waits: `waitFor`, `exitCode`.
 * - `agents.ts`: external agents (the echo fixture run by the test), `createExternal`, `agentCall`.
 * - `dns.ts`: a DNS server the test controls (`startDns`), for `--resolver`.
 */
export * from "./support/agents.ts";
export * from "./support/dns.ts";
export * from "./support/gateways.ts";
export * from "./support/http.ts";
export * from "./support/procs.ts";
export * from "./support/providers.ts";
export * from "./support/sandbox.ts";
export * from "./support/wait.ts";
export * from "./support/wire.ts";
