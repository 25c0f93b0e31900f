/** The benchmark's fast provider: answers GET /health (and everything else) with 200 on $PORT. */
const fixture = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT),
  fetch: () => new Response("ok"),
});
console.log(`fixture listening on ${fixture.port}`);
