// `node load-cli.mjs URL CONNECTIONS DURATION_MS [HOST]`: the load generator as a command, so that it can run
// inside another network namespace (nsenter); prints its result as one JSON line.
import { load } from './load.mjs';

const [url, connections, durationMs, host] = process.argv.slice(2);
const result = await load({
  url,
  connections: Number(connections),
  durationMs: Number(durationMs),
  headers: host ? { host } : {},
});
process.stdout.write(`${JSON.stringify(result)}\n`);
