// RunMesh, in one run, against baselines measured in the same run. A platform server (child process, SQLite)
// with the built-in OpenAI provider pointed at the scripted model server (test/support/model-server.ts), and
// real `runtools mesh up` helpers started by the bench as child processes on loopback (their own HOME and
// --root in a temp dir, no --wireguard), approved with the SDK:
// - local-agent tool calls on a device: a `local` agent whose model makes 20 iterations of one `bash true` call
//   each. The platform's time per step is computed as agent-loop.mjs does (wall time minus the model's time
//   minus the tools' time); the tools' time (each tool-result's durationMs: control plane → channel → helper →
//   bubblewrap → back) is set against `bash -c true` run under bubblewrap in this process with the helper's own
//   code and arguments (packages/cli/dist/mesh/exec.js), i.e. what the channel adds to a device exec;
// - the link flow: `mesh up` (POST /v1/mesh/links) → `rt.mesh.links.approve(code)` → the helper's `linked as`
//   line, 10 links each with a fresh config dir, against an authenticated GET /v1/mesh/nodes round trip.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunTools } from '@runtools/sdk';
import { bwrapArguments, detectConfinement, runCommand } from '../packages/cli/dist/mesh/exec.js';
import { startModelServer } from '../test/support/model-server.ts';
import { measureAgentRun } from './lib/agent-run.mjs';
import { startChild } from './lib/child.mjs';
import { median } from './lib/load.mjs';

const here = (path) => new URL(path, import.meta.url).pathname;
const cliBin = here('../packages/cli/bin/runtools.js');
const loopIterations = 20;
const linkCount = 10;
/** The server's default; the helper waits this long before each poll of its link. */
const pollSeconds = 2;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Helpers still running, killed on the way out whatever happens. */
const live = new Set();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * `runtools mesh up` in its own process with a clean environment (PATH, and HOME in the bench's temp dir); each
 * stdout line is stamped with performance.now() when it arrives.
 */
function startHelper(home, args) {
  const child = spawn(process.execPath, [cliBin, 'mesh', 'up', ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home },
    cwd: home,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  const lines = [];
  const waiters = new Set();
  child.stdout.on('data', (chunk) => {
    const at = performance.now();
    stdout += chunk;
    let newline = stdout.indexOf('\n');
    while (newline >= 0) {
      lines.push({ line: stdout.slice(0, newline), at });
      stdout = stdout.slice(newline + 1);
      newline = stdout.indexOf('\n');
    }
    for (const waiter of waiters) waiter();
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  exited.then(() => {
    live.delete(child);
    for (const waiter of waiters) waiter();
  });
  /** The first stdout line matching `pattern`, its match and when it arrived. */
  const waitForLine = (pattern, timeoutMs = 30_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        for (const { line, at } of lines) {
          const match = line.match(pattern);
          if (match) return finish(() => resolve({ match, at }));
        }
        if (child.exitCode !== null || child.signalCode !== null)
          finish(() => reject(new Error(`the helper exited before ${pattern}: ${stderr.trim()}`)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no ${pattern} from the helper within ${timeoutMs} ms: ${stderr.trim()}`))),
        timeoutMs,
      );
      const finish = (settle) => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const stopped = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
    if (!stopped) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  return { waitForLine, stop };
}

/** A device's public keys as `mesh up` sends them (WireGuard: standard base64; identity: base64url). */
function deviceKeys() {
  const wireguard = generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }).x;
  const identity = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x;
  return { publicKey: Buffer.from(wireguard, 'base64url').toString('base64'), identityKey: identity };
}

async function timed(fn) {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

async function until(check, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** The link flow, `linkCount` times, each helper with a fresh config dir; GET /v1/mesh/nodes between links. */
async function measureLinks({ rt, url, work, home, root, helpers }) {
  const samples = [];
  const posts = [];
  const gets = [];
  for (let i = 0; i < 10; i++) await rt.mesh.nodes.list(); // warm-up
  for (let i = 0; i < linkCount; i++) {
    // The link request on its own (what the helper sends first), from this process; denied straight after.
    const post = await timed(async () => {
      const response = await fetch(`${url}/v1/mesh/links`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `probe-${i}`, ...deviceKeys(), platform: 'linux-x64', version: '0.1.0' }),
      });
      if (response.status !== 201 && response.status !== 200)
        throw new Error(`POST /v1/mesh/links: ${response.status} ${await response.text()}`);
      return response.json();
    });
    posts.push(post.ms);
    await rt.mesh.links.deny(post.value.code);

    const configDir = join(work, `link-${i}`);
    const spawned = performance.now();
    const helper = startHelper(home, [
      '--server',
      url,
      '--name',
      `link-${i}`,
      '--root',
      root,
      '--config-dir',
      configDir,
    ]);
    helpers.push(helper);
    const coded = await helper.waitForLine(/^link code: (\S+)/);
    const approve = await timed(() => rt.mesh.links.approve(coded.match[1]));
    const approvedAt = performance.now();
    const linked = await helper.waitForLine(/^linked as /, (pollSeconds + 30) * 1000);
    samples.push({
      startToCode: coded.at - spawned,
      approve: approve.ms,
      approveToLinked: linked.at - approvedAt,
      codeToLinked: linked.at - coded.at,
      startToLinked: linked.at - spawned,
    });
    await helper.stop();
    rmSync(configDir, { recursive: true, force: true });
    for (let j = 0; j < 5; j++) gets.push((await timed(() => rt.mesh.nodes.list())).ms);
  }
  return { samples, posts, gets };
}

/** One agent run measured (lib/agent-run.mjs), every bash call of which must have succeeded on the device. */
async function measureRun(rt, model, slug, turns) {
  const measured = await measureAgentRun(rt, model, slug, turns);
  const failed = measured.events.find(
    (event) => event.type === 'tool-result' && (event.isError || event.output?.exitCode !== 0),
  );
  if (failed) throw new Error(`a bash call failed on the device: ${JSON.stringify(failed.output)}`);
  return measured;
}

/** `bash -c true` as the helper runs it (its own runCommand, bubblewrap, the same root and hidden home). */
async function bwrapTrue(confinement, root, home) {
  const { ms, value } = await timed(() =>
    runCommand({ root, home, command: 'true', cwd: root, timeoutMs: 30_000, confinement }),
  );
  if (value.exitCode !== 0) throw new Error(`bwrap bash -c true failed: ${value.stderr}`);
  return ms;
}

/** The local agent on a linked device, interleaved round by round with the same number of direct execs. */
async function measureToolCalls({ rt, model, url, home, root, helpers, rounds }) {
  const confinement = detectConfinement({ allowUnconfined: false });
  if (confinement.kind !== 'bwrap')
    throw new Error('bubblewrap (bwrap) is not installed: the helper would refuse bash');
  const helper = startHelper(home, ['--server', url, '--name', 'bench-device', '--root', root]);
  helpers.push(helper);
  const coded = await helper.waitForLine(/^link code: (\S+)/);
  await rt.mesh.links.approve(coded.match[1]);
  await helper.waitForLine(/^linked as /, (pollSeconds + 30) * 1000);
  await until(async () => (await rt.mesh.nodes.get('bench-device')).online, 'bench-device online');
  await rt.agents.create({
    slug: 'on-device',
    model: 'gpt-5',
    mode: 'local',
    device: 'bench-device',
    maxIterations: 100,
  });
  const turns = [
    ...Array.from({ length: loopIterations }, () => ({ toolCalls: [{ name: 'bash', input: { command: 'true' } }] })),
    { text: 'done' },
  ];
  const realRoot = realpathSync(root);
  const realHome = realpathSync(home);
  // Warm-up: the first run, and a few direct execs.
  await measureRun(rt, model, 'on-device', turns);
  for (let i = 0; i < 5; i++) await bwrapTrue(confinement, realRoot, realHome);
  const runs = [];
  const direct = [];
  for (let round = 0; round < Math.max(rounds, 3) * 2; round++) {
    for (let i = 0; i < loopIterations; i++) direct.push(await bwrapTrue(confinement, realRoot, realHome));
    runs.push(await measureRun(rt, model, 'on-device', turns));
  }
  return {
    runs,
    direct,
    bwrapArgs: bwrapArguments({ root: realRoot, home: realHome, cwd: realRoot }),
  };
}

export async function run({ rounds }) {
  const work = mkdtempSync(join(tmpdir(), 'runtools-bench-mesh-'));
  const home = join(work, 'home');
  const root = join(work, 'root');
  mkdirSync(home);
  mkdirSync(root);
  const helpers = [];
  let model;
  let child;
  try {
    model = await startModelServer();
    child = startChild(here('./lib/platform-server.mjs'), [], {
      RUNTOOLS_OPENAI_BASE_URL: model.openaiBaseUrl,
      // Ten links in a row from one address would trip the default 10 a minute.
      RUNTOOLS_MESH_LINK_RATE_PER_MINUTE: '1000',
      RUNTOOLS_MESH_POLL_SECONDS: String(pollSeconds),
    });
    const { url, adminKey } = await child.ready;
    const rt = new RunTools({ apiKey: adminKey, baseUrl: url, timeoutMs: 5 * 60_000 });
    await rt.secrets.set('OPENAI_API_KEY', 'sk-bench', { category: 'provider' });
    const links = await measureLinks({ rt, url, work, home, root, helpers });
    const tools = await measureToolCalls({ rt, model, url, home, root, helpers, rounds });
    return { links, tools };
  } finally {
    await Promise.all(helpers.map((helper) => helper.stop()));
    await model?.close();
    await child?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

export const meta = {
  name: 'mesh',
  title: 'RunMesh: local-agent tool calls on a device vs bubblewrap directly, and the link flow vs a GET (ms)',
};

export function report({ links, tools }) {
  const { runs, direct } = tools;
  const toolCalls = runs.flatMap((sample) => sample.toolCalls);
  const perStep = median(runs.map((sample) => sample.platform / sample.steps));
  const toolMedian = median(toolCalls);
  const directMedian = median(direct);
  const getMedian = median(links.gets);
  const field = (name) => links.samples.map((sample) => sample[name]);
  const row = (name, values, baseline) =>
    `${name.padEnd(44)}${median(values).toFixed(2).padStart(10)}${percentile(values, 95).toFixed(2).padStart(10)}${String(values.length).padStart(6)}${(baseline ? `${(median(values) / baseline).toFixed(2)}x` : '').padStart(10)}`;
  const header = `${''.padEnd(44)}${'median'.padStart(10)}${'p95'.padStart(10)}${'n'.padStart(6)}${'ratio'.padStart(10)}`;
  const lines = [
    `local agent on a device: ${runs.length} runs of ${loopIterations} bash true calls (+1 final step), median per run:`,
    `  wall ${median(runs.map((s) => s.wall)).toFixed(1)}, model ${median(runs.map((s) => s.modelMs)).toFixed(1)}, tools ${median(runs.map((s) => s.toolMs)).toFixed(1)}, platform/step ${perStep.toFixed(2)}`,
    header,
    row('tool call: bash true on the device', toolCalls, directMedian),
    row('baseline: bwrap bash -c true, here', direct, directMedian),
    `channel adds ${(toolMedian - directMedian).toFixed(2)} ms a call (tool-result durationMs is whole ms)`,
    '',
    `link flow: ${links.samples.length} links, each a fresh config dir; the helper polls every ${pollSeconds} s (the server's default)`,
    header,
    row('POST /v1/mesh/links (from the bench)', links.posts, getMedian),
    row('mesh up start → link code (node, keys, POST)', field('startToCode'), getMedian),
    row('approve (rt.mesh.links.approve)', field('approve'), getMedian),
    row('approved → linked as (the poll)', field('approveToLinked'), getMedian),
    row('link code → linked as', field('codeToLinked'), getMedian),
    row('mesh up start → linked as', field('startToLinked'), getMedian),
    row('baseline: GET /v1/mesh/nodes', links.gets, getMedian),
  ];
  return {
    lines,
    summary: [
      `mesh: a local agent's bash true on a device takes ${toolMedian.toFixed(1)} ms, ${(toolMedian / directMedian).toFixed(2)}x bubblewrap run directly (${directMedian.toFixed(1)} ms); ${perStep.toFixed(2)} ms of platform time per step`,
      `mesh: link code → linked as ${median(field('codeToLinked')).toFixed(0)} ms (approve ${median(field('approve')).toFixed(1)} ms, ${(median(field('approve')) / getMedian).toFixed(2)}x a GET of ${getMedian.toFixed(1)} ms; the rest is the ${pollSeconds} s poll)`,
    ],
  };
}
