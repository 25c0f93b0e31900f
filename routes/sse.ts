/**
 * A server-sent event stream for the gateway's own routes: `open` writes what comes first and
 * subscribes, returning its unsubscribe; a comment every 15 s keeps intermediaries from closing a
 * quiet stream; the subscription and the timer end when the client goes away (or a write fails).
 */
export function eventStream(first: string, open: (send: (text: string) => void) => () => void): Response {
  const encoder = new TextEncoder();
  let stop = () => {};
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      let unsubscribe = () => {};
      let ping: ReturnType<typeof setInterval> | undefined;
      let stopped = false;
      stop = () => {
        if (stopped) return;
        stopped = true;
        unsubscribe();
        clearInterval(ping);
      };
      const send = (text: string) => {
        if (stopped) return;
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          stop();
        }
      };
      // Something at once, so the response head goes out even with nothing to report yet.
      send(first);
      unsubscribe = open(send);
      // A write that failed while opening stopped it before there was anything to unsubscribe.
      if (stopped) unsubscribe();
      else ping = setInterval(() => send(": ping\n\n"), 15_000);
    },
    cancel() {
      stop();
    },
  });
  return new Response(stream, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
}
