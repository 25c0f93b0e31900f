/**
 * Headless Chromium for the page tests (Debian's `chromium`, driven by playwright-core): where
 * it is, and whether the tests that need it run. Without it they are skipped with a warning
 * here, and fail in CI (CI=true), where .ci/run installs it.
 */
import { existsSync } from "node:fs";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const IN_CI = process.env.CI === "true";
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
/** Whether the browser tests of this file are skipped (said once, naming the file). */
export function skipsWithoutChromium(file: string): boolean {
  if (HAVE_CHROMIUM || IN_CI) return false;
  console.warn(
    `${file}: skipping the browser tests: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH); in CI (CI=true) they run and fail instead`,
  );
  return true;
}
