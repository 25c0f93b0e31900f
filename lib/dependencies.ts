/**
 * `depends_on` between providers: which are unknown or form cycles (those providers are not
 * started), and the order to stop in (dependents before their dependencies).
 */

/** What this module needs of a provider: its code and the codes it depends on. */
export interface Dependent {
  code: string;
  dependsOn: readonly string[];
}

/** Unknown dependencies and cycles, by provider code. */
export function findDependencyProblems(list: Iterable<Dependent>): Map<string, string> {
  const providers = new Map<string, Dependent>();
  for (const provider of list) providers.set(provider.code, provider);
  const problems = new Map<string, string>();
  for (const [code, provider] of providers) {
    for (const dependency of provider.dependsOn) {
      if (!providers.has(dependency)) problems.set(code, `depends_on names unknown provider "${dependency}"`);
    }
  }
  const state = new Map<string, "visiting" | "done">();
  const visit = (code: string, path: string[]): void => {
    if (state.get(code) === "done") return;
    if (state.get(code) === "visiting") {
      const cycle = [...path.slice(path.indexOf(code)), code];
      for (const member of cycle) problems.set(member, `depends_on forms a cycle: ${cycle.join(" -> ")}`);
      return;
    }
    state.set(code, "visiting");
    for (const dependency of providers.get(code)?.dependsOn ?? []) {
      if (providers.has(dependency)) visit(dependency, [...path, code]);
    }
    state.set(code, "done");
  };
  for (const code of providers.keys()) visit(code, []);
  return problems;
}

/**
 * The order to stop `providers` in, as waves that may stop together: a provider stops once no
 * provider still running depends on it. What a cycle leaves over stops in the last wave.
 */
export function stopWaves<T extends Dependent>(providers: Iterable<T>): T[][] {
  const remaining = new Map<string, T>();
  for (const provider of providers) remaining.set(provider.code, provider);
  const waves: T[][] = [];
  while (remaining.size > 0) {
    const left = [...remaining.values()];
    const wave = left.filter((provider) => !left.some((other) => other.dependsOn.includes(provider.code)));
    const batch = wave.length > 0 ? wave : left;
    waves.push(batch);
    for (const provider of batch) remaining.delete(provider.code);
  }
  return waves;
}
