/** `gateway healthcheck`: exit 0 iff `url` answers 200 within 5 s (for a container HEALTHCHECK). */
export async function healthcheck(url: string): Promise<number> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await response.body?.cancel();
    if (response.status === 200) return 0;
    process.stderr.write(`${url} answered ${response.status}\n`);
  } catch (error) {
    process.stderr.write(`${url}: ${(error as Error).message}\n`);
  }
  return 1;
}
