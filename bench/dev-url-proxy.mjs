import { runCommand } from '@runtools/runtime';
import { RunTools } from '@runtools/sdk';
import { startChild } from './lib/child.mjs';
import { load, median } from './lib/load.mjs';
import { crunSandboxPid } from './lib/setup.mjs';

const here = (path) => new URL(path, import.meta.url).pathname;
const serverCode = [
  "const http = require('http');",
  "http.createServer((q, r) => r.end('ok')).listen(8080, '0.0.0.0');",
  'http.createServer((q, r) => { const end = performance.now() + 1; while (performance.now() < end); ' +
    "r.end('ok'); }).listen(8081, '0.0.0.0');",
].join(' ');
const handlers = [
  { port: 8080, name: 'instant' },
  { port: 8081, name: '1 ms work' },
];

export async function run({ durationMs, connections, rounds }) {
  const child = startChild(here('./lib/platform-server.mjs'));
  const rows = [];
  try {
    const { url, adminKey, dataDir } = await child.ready;
    const rt = new RunTools({ apiKey: adminKey, baseUrl: url, timeoutMs: 15 * 60_000 });
    // The first sandbox of nodejs-20 builds the template (a minute or two, once per machine).
    const box = await rt.sandboxes.create({ runtime: 'container', template: 'nodejs-20' });
    try {
      await box.files.write('/tmp/server.js', serverCode);
      await box.exec('node /tmp/server.js', { background: true });
      const serverPort = new URL(url).port;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const pid = await crunSandboxPid(dataDir, box.id);
      for (const handler of handlers) {
        const { url: devUrl } = await box.getUrl({ port: handler.port, public: true });
        const devHost = new URL(devUrl).host;
        const samples = { direct: [], proxy: [] };
        for (let round = 0; round < rounds; round++) {
          const direct = await runCommand('nsenter', [
            '-t',
            String(pid),
            '-n',
            process.execPath,
            here('./lib/load-cli.mjs'),
            `http://127.0.0.1:${handler.port}/`,
            String(connections),
            String(durationMs),
          ]);
          if (direct.exitCode !== 0) throw new Error(`direct load failed: ${direct.stderr}`);
          const proxied = await load({
            url: `http://127.0.0.1:${serverPort}/`,
            headers: { host: devHost },
            connections,
            durationMs,
          });
          if (proxied.errors || proxied.non2xx) throw new Error(`proxy errors: ${JSON.stringify(proxied)}`);
          samples.direct.push(JSON.parse(direct.stdout.toString()));
          samples.proxy.push(proxied);
        }
        const direct = median(samples.direct.map((sample) => sample.rps));
        const proxy = median(samples.proxy.map((sample) => sample.rps));
        rows.push(
          {
            name: `${handler.name}: direct`,
            rps: direct,
            p50: median(samples.direct.map((sample) => sample.p50)),
          },
          {
            name: `${handler.name}: dev URL`,
            rps: proxy,
            p50: median(samples.proxy.map((sample) => sample.p50)),
            ratio: proxy / direct,
          },
        );
      }
    } finally {
      await box.destroy();
    }
  } finally {
    await child.stop();
  }
  return rows;
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
  const summary = rows
    .filter((row) => row.ratio !== undefined)
    .map(
      (row) =>
        `dev-url-proxy (${row.name.replace(': dev URL', '')}): ${row.rps.toFixed(0)} req/s through the dev URL, ` +
        `${row.ratio.toFixed(2)}x direct (${options.connections} connections; goal >= 0.7x: ${row.ratio >= 0.7 ? 'met' : 'missed'})`,
    );
  return { lines, summary };
}
