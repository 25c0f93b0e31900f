import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";

/** Whether `path` is a regular file this process may execute. */
export function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The first executable file named `program` in the folders of `pathEnv` (a `PATH` value), as a
 * shell would find it; relative folders are taken from `cwd`. Null if there is none.
 */
export function findOnPath(program: string, pathEnv: string, cwd = process.cwd()): string | null {
  for (const folder of pathEnv.split(delimiter)) {
    if (!folder) continue;
    const candidate = resolve(cwd, join(folder, program));
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}
