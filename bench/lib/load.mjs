// A closed-loop HTTP load generator: `connections` keep-alive connections, each sending its next request as
// soon as the previous answer has been read, for `durationMs`. Every latency is recorded, so the percentiles
// are exact rather than read off a histogram.
import { Agent, request } from 'node:http';

export async function load({ url, headers = {}, connections, durationMs }) {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const latencies = [];
  let errors = 0;
  let non2xx = 0;
  const deadline = performance.now() + durationMs;

  const once = () =>
    new Promise((resolve) => {
      const started = performance.now();
      const outgoing = request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname + target.search,
          method: 'GET',
          headers,
          agent,
        },
        (incoming) => {
          incoming.resume();
          incoming.on('end', () => {
            if (incoming.statusCode < 200 || incoming.statusCode >= 300) non2xx++;
            latencies.push(performance.now() - started);
            resolve();
          });
        },
      );
      outgoing.on('error', () => {
        errors++;
        resolve();
      });
      outgoing.end();
    });

  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) await once();
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return { requests: latencies.length, rps: latencies.length / elapsedS, p50: at(0.5), p95: at(0.95), errors, non2xx };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
