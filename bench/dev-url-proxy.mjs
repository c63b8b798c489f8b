// The dev-URL proxy against the direct path, in one run: the same HTTP server (Node, in a crun sandbox of the
// nodejs-20 template) loaded through its dev URL (control plane, daemon relay) and from inside the sandbox's
// own network namespace (nsenter), with the same closed-loop generator. Goal: >= 0.7x the direct throughput.
import { join } from 'node:path';
import { runCommand } from '@runtools/runtime';
import { RunTools } from '@runtools/sdk';
import { startChild } from './lib/child.mjs';
import { load, median } from './lib/load.mjs';

const here = (path) => new URL(path, import.meta.url).pathname;
const serverCode =
  "require('http').createServer((q, r) => r.end('ok')).listen(8080, '0.0.0.0', () => console.log('up'))";

export async function run({ durationMs, connections, rounds }) {
  const child = startChild(here('./lib/platform-server.mjs'));
  const samples = { direct: [], proxy: [] };
  let latency = {};
  try {
    const { url, adminKey, dataDir } = await child.ready;
    const rt = new RunTools({ apiKey: adminKey, baseUrl: url, timeoutMs: 15 * 60_000 });
    // The first sandbox of nodejs-20 builds the template (a minute or two, once per machine).
    const box = await rt.sandboxes.create({ runtime: 'container', template: 'nodejs-20' });
    try {
      await box.exec(`node -e "${serverCode}"`, { background: true });
      const { url: devUrl } = await box.getUrl({ port: 8080, public: true });
      const devHost = new URL(devUrl).host;
      const serverPort = new URL(url).port;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const state = await runCommand('crun', [
        '--root',
        join(dataDir, 'sandboxes', 'container', '.crun'),
        'state',
        box.id,
      ]);
      if (state.exitCode !== 0) throw new Error(`crun state failed: ${state.stderr}`);
      const pid = JSON.parse(state.stdout.toString()).pid;
      for (let round = 0; round < rounds; round++) {
        const direct = await runCommand('nsenter', [
          '-t',
          String(pid),
          '-n',
          process.execPath,
          here('./lib/load-cli.mjs'),
          'http://127.0.0.1:8080/',
          String(connections),
          String(durationMs),
        ]);
        if (direct.exitCode !== 0) throw new Error(`direct load failed: ${direct.stderr}`);
        const directResult = JSON.parse(direct.stdout.toString());
        const proxied = await load({
          url: `http://127.0.0.1:${serverPort}/`,
          headers: { host: devHost },
          connections,
          durationMs,
        });
        if (proxied.errors || proxied.non2xx) throw new Error(`proxy errors: ${JSON.stringify(proxied)}`);
        samples.direct.push(directResult);
        samples.proxy.push(proxied);
      }
      latency = {
        direct: median(samples.direct.map((sample) => sample.p50)),
        proxy: median(samples.proxy.map((sample) => sample.p50)),
      };
    } finally {
      await box.destroy();
    }
  } finally {
    await child.stop();
  }
  const direct = median(samples.direct.map((sample) => sample.rps));
  const proxy = median(samples.proxy.map((sample) => sample.rps));
  return [
    { name: 'direct (sandbox netns)', rps: direct, p50: latency.direct },
    { name: 'dev URL proxy', rps: proxy, p50: latency.proxy, ratio: proxy / direct },
  ];
}

export const meta = {
  name: 'dev-url-proxy',
  title: 'HTTP to a server in a crun sandbox: through its dev URL vs from inside its namespace (req/s, p50 ms)',
};

export function report(rows, options) {
  const lines = [
    `${'target'.padEnd(26)}${'req/s'.padStart(10)}${'p50 ms'.padStart(9)}${'x direct'.padStart(10)}`,
    ...rows.map(
      (row) =>
        `${row.name.padEnd(26)}${row.rps.toFixed(0).padStart(10)}${row.p50.toFixed(2).padStart(9)}${(row.ratio === undefined ? '' : row.ratio.toFixed(2)).padStart(10)}`,
    ),
  ];
  const proxy = rows[1];
  const summary = [
    `dev-url-proxy: ${proxy.rps.toFixed(0)} req/s through the dev URL, ${proxy.ratio.toFixed(2)}x direct ` +
      `(${options.connections} connections; goal >= 0.7x: ${proxy.ratio >= 0.7 ? 'met' : 'missed'})`,
  ];
  return { lines, summary };
}
