/**
 * The spec worker thread (lib/openapi/spec-thread.ts): a spec loaded there is the one this
 * thread would load; a worker that cannot start costs only the thread, never the spec; a stopped
 * one takes no more work.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Logger } from "../lib/logger.ts";
import { loadSpecFile } from "../lib/openapi/spec.ts";
import { SpecThread } from "../lib/openapi/spec-thread.ts";
import { SPECS } from "./openapi-helpers.ts";

const PETSTORE = join(SPECS, "petstore-expanded-v2");

function logged(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger({ level: "debug", format: "json", write: (line) => lines.push(line) }), lines };
}

describe("the spec worker thread", () => {
  test("loads a spec file to the same result as this thread, and logs nothing", async () => {
    const { logger, lines } = logged();
    const thread = new SpecThread(logger);
    try {
      const there = await thread.loadFile("./swagger.json", PETSTORE);
      const here = await loadSpecFile("./swagger.json", PETSTORE);
      expect(there.errors).toEqual([]);
      expect(there.document?.openapi).toMatch(/^3\.1\./);
      expect(there).toEqual(JSON.parse(JSON.stringify(here)));
      expect(lines).toEqual([]);
    } finally {
      thread.stop();
    }
  });

  test("a worker that cannot start: its loads are done in this thread, and the log says so once", async () => {
    const { logger, lines } = logged();
    const thread = new SpecThread(logger, "file:///nonexistent/spec-worker.ts");
    try {
      const [first, second] = await Promise.all([
        thread.loadFile("./swagger.json", PETSTORE),
        thread.loadFile("./swagger.json", PETSTORE),
      ]);
      expect(first.document?.openapi).toMatch(/^3\.1\./);
      expect(second.errors).toEqual([]);
      const third = await thread.loadFile("./swagger.json", PETSTORE);
      expect(third.document?.openapi).toMatch(/^3\.1\./);
      const warnings = lines.filter((line) => line.includes("spec worker thread failed"));
      expect(warnings.length).toBe(1);
      expect(warnings[0]).toContain("main thread");
    } finally {
      thread.stop();
    }
  });

  test("once stopped, a load is refused instead of starting a new worker", async () => {
    const { logger } = logged();
    const thread = new SpecThread(logger);
    thread.stop();
    await expect(thread.loadFile("./swagger.json", PETSTORE)).rejects.toThrow("stopping");
  });
});
