import type { SmokeCheck } from "./smoke.ts";

/** XML 1.0 text: the five escapes, and no character XML cannot hold (control characters but tab and line breaks). */
function xml(text: string): string {
  return text
    .replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "\uFFFD")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

/**
 * The checks as a JUnit XML report, the format CI systems display (GitHub Actions reporters,
 * GitLab, Jenkins): one test suite, one test case per check, named `<provider> <check>` with
 * the provider as its class name; a failed check has a `failure` with its reason.
 */
export function junitReport(checks: SmokeCheck[], options: { name: string; seconds: number }): string {
  const failures = checks.filter((check) => !check.ok).length;
  const time = options.seconds.toFixed(3);
  const cases = checks.map((check) => {
    const classname = check.provider === "-" ? "gateway" : `provider.${check.provider}`;
    const name = check.provider === "-" ? check.check : `${check.provider} ${check.check}`;
    const seconds = ((check.ms ?? 0) / 1000).toFixed(3);
    const open = `    <testcase classname="${xml(classname)}" name="${xml(name)}" time="${seconds}"`;
    if (check.ok) return `${open}>\n      <system-out>${xml(check.detail)}</system-out>\n    </testcase>`;
    return `${open}>\n      <failure message="${xml(check.detail)}" type="${xml(check.check)}">${xml(check.detail)}</failure>\n    </testcase>`;
  });
  const suite = `name="${xml(options.name)}" tests="${checks.length}" failures="${failures}" errors="0" skipped="0" time="${time}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites ${suite}>`,
    `  <testsuite ${suite} timestamp="${new Date().toISOString().slice(0, 19)}">`,
    ...cases,
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}
