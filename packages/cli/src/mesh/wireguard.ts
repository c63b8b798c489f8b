import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import {
  type MeshNodeConfig,
  type MeshPeer,
  meshAddressPrefixLength,
  meshAddressRange,
  WireGuardKey,
} from '@runtools/spec';
import { exitCodes, UserError } from '../errors.js';
import { findExecutable } from './exec.js';
import { writePrivateFile } from './state.js';

const run = promisify(execFile);

/** A Linux interface name: at most 15 characters, none that `ip` would read as something else. */
export const interfaceNamePattern = /^[A-Za-z0-9_.=+-]{1,15}$/;

// What may reach the config file from the control plane: no newline or `=` trickery can add a directive.
const allowedIpPattern = /^[0-9A-Fa-f.:]+\/\d{1,3}$/;

/**
 * Whether `cidr` is an address of the mesh's range (100.64.0.0/10) with this prefix length. A control plane
 * (compromised, or not the one it claims) could otherwise route any of the device's traffic into the tunnel:
 * the interface's prefix becomes a route, and a peer's allowed IPs say whose traffic it takes
 * (0.0.0.0/0, the device's LAN).
 */
export function isMeshCidr(cidr: string, prefixLength: number): boolean {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!match) return false;
  const [first, second, third, fourth] = match.slice(1, 5).map(Number) as [number, number, number, number];
  if ([third, fourth].some((octet) => octet > 255)) return false;
  return first === 100 && second >= 64 && second <= 127 && Number(match[5]) === prefixLength;
}
const endpointPattern = /^(?:[0-9.]+|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

export interface RenderedConfig {
  text: string;
  /** Peers left out because a field was not what WireGuard takes, with why. */
  skipped: { name: string; reason: string }[];
}

/**
 * The `wg syncconf` file: the interface's private key and port, one peer for each of the org's other nodes
 * (`wg` sets what is listed and removes the peers that are not). The address is not here: `ip` sets it.
 */
export function renderWireGuardConfig(options: {
  privateKey: string;
  listenPort: number;
  peers: MeshPeer[];
}): RenderedConfig {
  const lines = ['[Interface]', `PrivateKey = ${options.privateKey}`, `ListenPort = ${options.listenPort}`];
  const skipped: RenderedConfig['skipped'] = [];
  for (const peer of options.peers) {
    if (!WireGuardKey.safeParse(peer.publicKey).success) {
      skipped.push({ name: peer.name, reason: 'its public key is not a WireGuard key' });
      continue;
    }
    const badIp = peer.allowedIps.find((ip) => !allowedIpPattern.test(ip) || !isMeshCidr(ip, 32));
    if (badIp !== undefined || peer.allowedIps.length === 0) {
      skipped.push({ name: peer.name, reason: `allowed IPs ${JSON.stringify(peer.allowedIps)}` });
      continue;
    }
    if (peer.endpoint !== null && !endpointPattern.test(peer.endpoint)) {
      skipped.push({ name: peer.name, reason: `endpoint ${JSON.stringify(peer.endpoint)}` });
      continue;
    }
    lines.push('', '[Peer]', `PublicKey = ${peer.publicKey}`, `AllowedIPs = ${peer.allowedIps.join(', ')}`);
    if (peer.endpoint !== null) lines.push(`Endpoint = ${peer.endpoint}`);
    lines.push('PersistentKeepalive = 25');
  }
  return { text: `${lines.join('\n')}\n`, skipped };
}

export interface WireGuardTools {
  wireguardGo: string;
  wg: string;
  ip: string;
}

/** The userspace WireGuard tools, or a UserError naming the Debian packages that bring them. */
export function requireWireGuardTools(): WireGuardTools {
  const wireguardGo = findExecutable('wireguard-go');
  const wg = findExecutable('wg');
  const ip = findExecutable('ip');
  const missing = [
    ...(wireguardGo ? [] : ['wireguard-go (package wireguard-go)']),
    ...(wg ? [] : ['wg (package wireguard-tools)']),
    ...(ip ? [] : ['ip (package iproute2)']),
  ];
  if (!wireguardGo || !wg || !ip) {
    throw new UserError(
      `--wireguard needs ${missing.join(', ')}`,
      'on Debian or Ubuntu: sudo apt-get install wireguard-go wireguard-tools iproute2',
    );
  }
  return { wireguardGo, wg, ip };
}

function interfaceExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

function failure(error: unknown): string {
  const failed = error as { stderr?: string; message?: string };
  return (failed.stderr || failed.message || String(error)).trim();
}

/**
 * One userspace WireGuard interface, owned by the helper: `wireguard-go -f` runs as its child, `ip` gives it the
 * node's address, `wg syncconf` keeps its peers those of the latest config.
 */
export class WireGuardInterface {
  private daemon: ChildProcess | undefined;
  private address: string | undefined;
  private output = '';
  /** Called when wireguard-go stops on its own (the interface is gone with it). */
  onUnexpectedExit: ((output: string) => void) | undefined;

  constructor(
    readonly name: string,
    private readonly tools: WireGuardTools,
    private readonly options: { privateKey: string; listenPort: number; configPath: string },
  ) {}

  get listenPort(): number {
    return this.options.listenPort;
  }

  /** Starts wireguard-go and waits for the interface; one left by a helper that died is removed first. */
  async start(log: (line: string) => void): Promise<void> {
    if (interfaceExists(this.name)) {
      log(`removing the interface ${this.name} left by an earlier helper`);
      await run(this.tools.ip, ['link', 'del', this.name]).catch((error: unknown) => {
        throw new UserError(
          `the interface ${this.name} exists and cannot be removed: ${failure(error)}`,
          undefined,
          exitCodes.internal,
        );
      });
    }
    const daemon = spawn(this.tools.wireguardGo, ['-f', this.name], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // wireguard-go suggests the kernel module at length where there is one; the userspace one is the point.
      env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' },
    });
    this.daemon = daemon;
    const keep = (chunk: Buffer) => {
      this.output = `${this.output}${chunk.toString('utf8')}`.slice(-4000);
    };
    daemon.stdout?.on('data', keep);
    daemon.stderr?.on('data', keep);
    let exited = false;
    daemon.on('exit', () => {
      exited = true;
      if (this.daemon === daemon) this.onUnexpectedExit?.(this.daemonOutput());
    });
    daemon.on('error', (error) => {
      exited = true;
      this.output += error.message;
    });
    const deadline = Date.now() + 10_000;
    while (!interfaceExists(this.name) || !existsSync(`/var/run/wireguard/${this.name}.sock`)) {
      if (exited || Date.now() > deadline) {
        await this.stop();
        const output = this.daemonOutput();
        throw new UserError(
          `wireguard-go could not create ${this.name}${exited ? '' : ' within 10 s'}: ${output || 'no output'}`,
          // Its control socket is /var/run/wireguard/<name>.sock whatever the network namespace.
          output.includes('socket in use')
            ? `another WireGuard interface is named ${this.name} (perhaps in another network namespace): pass --interface NAME`
            : undefined,
          exitCodes.internal,
        );
      }
      await sleep(50);
    }
    await this.ip(['link', 'set', this.name, 'up']);
  }

  /** What wireguard-go said, less its boxed advice to use the kernel module. */
  daemonOutput(): string {
    return this.output
      .split('\n')
      .filter((line) => !/^[\s│┌└─]*$|^│/.test(line))
      .join('\n')
      .trim();
  }

  private async ip(args: string[]): Promise<void> {
    try {
      await run(this.tools.ip, args);
    } catch (error) {
      throw new Error(`ip ${args.join(' ')}: ${failure(error)}`);
    }
  }

  /** Sets the node's address and the peers of this config (those no longer listed are removed). */
  async apply(config: MeshNodeConfig): Promise<RenderedConfig> {
    if (!isMeshCidr(config.interface.address, meshAddressPrefixLength))
      throw new Error(
        `the interface address ${JSON.stringify(config.interface.address)} is not a mesh address (${meshAddressRange})`,
      );
    if (this.address !== config.interface.address) {
      if (this.address !== undefined) await this.ip(['address', 'del', this.address, 'dev', this.name]);
      await this.ip(['address', 'add', config.interface.address, 'dev', this.name]);
      this.address = config.interface.address;
    }
    const rendered = renderWireGuardConfig({
      privateKey: this.options.privateKey,
      listenPort: this.options.listenPort,
      peers: config.peers,
    });
    writePrivateFile(this.options.configPath, rendered.text);
    try {
      await run(this.tools.wg, ['syncconf', this.name, this.options.configPath]);
    } catch (error) {
      throw new Error(`wg syncconf ${this.name}: ${failure(error)}`);
    }
    return rendered;
  }

  /** Deletes the interface and stops wireguard-go; safe to call twice. */
  async stop(): Promise<void> {
    if (interfaceExists(this.name)) await run(this.tools.ip, ['link', 'del', this.name]).catch(() => undefined);
    const daemon = this.daemon;
    this.daemon = undefined;
    if (!daemon || daemon.exitCode !== null || daemon.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
    daemon.kill('SIGTERM');
    const stopped = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]);
    if (!stopped) {
      daemon.kill('SIGKILL');
      await exited;
    }
  }
}
