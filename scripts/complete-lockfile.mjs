// The npm registry this project is installed from holds only some platforms' builds of biome's
// and deno's optional binaries. `npm install` then leaves the others out of package-lock.json,
// and `npm ci` refuses the lock as out of sync. This adds a lock entry (no tarball, never
// installed off its platform) for every optional dependency the lock lacks.
// Run after `npm install`: node scripts/complete-lockfile.mjs
import { readFileSync, writeFileSync } from "node:fs";

const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(file, "utf8"));
const packages = lock.packages;
const platform = (name) => {
  const os = ["android", "darwin", "linux", "win32", "freebsd"].find((o) => name.includes(o));
  const cpu = name.includes("arm64") || name.includes("aarch64") ? "arm64" : "x64";
  const libc = name.includes("musl") ? "musl" : os === "linux" ? "glibc" : undefined;
  return { os, cpu, libc };
};
let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (packages[key]) continue;
    const { os, cpu, libc } = platform(name);
    packages[key] = {
      version,
      ...(cpu ? { cpu: [cpu] } : {}),
      ...(entry.dev ? { dev: true } : {}),
      ...(libc ? { libc: [libc] } : {}),
      optional: true,
      ...(os ? { os: [os] } : {}),
    };
    added++;
    console.log(`added ${key}@${version} (${os}/${cpu}${libc ? `/${libc}` : ""}), optional of ${path}`);
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1)),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`${added} entries added`);
