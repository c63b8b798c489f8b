import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { MeshNodeConfig } from '@runtools/spec';
import { z } from 'zod';
import { UserError } from '../errors.js';

/**
 * What a device keeps in its mesh config dir (`--config-dir`, else $RUNTOOLS_MESH_DIR, else ~/.runtools/mesh):
 * its keys (made once), its node token and identity once linked, and what the running helper reports.
 */
export interface MeshPaths {
  dir: string;
  /** The WireGuard private key, base64 as `wg` writes it. */
  wireguardKey: string;
  /** The Ed25519 identity key, PKCS8 PEM. */
  identityKey: string;
  nodeToken: string;
  device: string;
  /** The last node config the control plane sent (no secrets: peers' public keys and addresses). */
  config: string;
  /** The rendered `wg syncconf` file: holds the private key. */
  wireguardConfig: string;
  pid: string;
  status: string;
}

export function meshDir(flag?: string): string {
  return resolve(flag || process.env.RUNTOOLS_MESH_DIR || join(homedir(), '.runtools', 'mesh'));
}

export function meshPaths(dir: string): MeshPaths {
  return {
    dir,
    wireguardKey: join(dir, 'wireguard.key'),
    identityKey: join(dir, 'identity.pem'),
    nodeToken: join(dir, 'node-token'),
    device: join(dir, 'device.json'),
    config: join(dir, 'config.json'),
    wireguardConfig: join(dir, 'wireguard.conf'),
    pid: join(dir, 'helper.pid'),
    status: join(dir, 'status.json'),
  };
}

/** Makes the config dir, private to its owner when this call creates it. */
export function ensureMeshDir(paths: MeshPaths): void {
  if (existsSync(paths.dir)) return;
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  chmodSync(paths.dir, 0o700);
}

/** Writes a file whole (a reader never sees half of it), readable by its owner only. */
export function writePrivateFile(path: string, content: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, content, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

function readJson<T>(path: string, schema: z.ZodType<T>): T | undefined {
  if (!existsSync(path)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new UserError(`${path} is not valid JSON`, 'remove it, or run: runtools mesh down --forget');
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new UserError(`${path} is not what runtools mesh wrote there`);
  return parsed.data;
}

/** The node this device was linked as. */
export const DeviceRecord = z.object({
  server: z.string(),
  nodeId: z.string(),
  name: z.string(),
  address: z.string(),
  root: z.string(),
  listenPort: z.number().int().nullable(),
});
export type DeviceRecord = z.infer<typeof DeviceRecord>;

export function readDevice(paths: MeshPaths): DeviceRecord | undefined {
  return readJson(paths.device, DeviceRecord);
}

export function writeDevice(paths: MeshPaths, device: DeviceRecord): void {
  writePrivateFile(paths.device, `${JSON.stringify(device, null, 2)}\n`);
}

export function readNodeToken(paths: MeshPaths): string | undefined {
  if (!existsSync(paths.nodeToken)) return undefined;
  const token = readFileSync(paths.nodeToken, 'utf8').trim();
  return token === '' ? undefined : token;
}

export function writeNodeToken(paths: MeshPaths, token: string): void {
  writePrivateFile(paths.nodeToken, `${token}\n`);
}

export function readNodeConfig(paths: MeshPaths): MeshNodeConfig | undefined {
  try {
    return readJson(paths.config, MeshNodeConfig);
  } catch {
    return undefined; // only a head start for the interface; the channel's welcome carries the real one
  }
}

export function writeNodeConfig(paths: MeshPaths, config: MeshNodeConfig): void {
  writePrivateFile(paths.config, `${JSON.stringify(config, null, 2)}\n`);
}

/** What the running helper reports in status.json, for `runtools mesh status`. */
export const HelperStatus = z.object({
  pid: z.number().int(),
  startedAt: z.string(),
  server: z.string(),
  root: z.string(),
  confined: z.boolean(),
  connected: z.boolean(),
  lastHeartbeatAt: z.string().nullable(),
  interface: z.string().nullable(),
  revision: z.number().int().nullable(),
  peers: z.array(
    z.object({ nodeId: z.string(), name: z.string(), address: z.string(), endpoint: z.string().nullable() }),
  ),
});
export type HelperStatus = z.infer<typeof HelperStatus>;

export function readHelperStatus(paths: MeshPaths): HelperStatus | undefined {
  try {
    return readJson(paths.status, HelperStatus);
  } catch {
    return undefined;
  }
}

export function writeHelperStatus(paths: MeshPaths, status: HelperStatus): void {
  writePrivateFile(paths.status, `${JSON.stringify(status, null, 2)}\n`);
}

/**
 * Whether a process runs. EPERM: it does, as another user. A zombie (exited, not yet reaped by its parent)
 * does not: it has already torn everything down.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS)
  }
}

/**
 * The pid of the helper running for this config dir, if one is. A pid file left by a helper that died (kill -9,
 * a reboot) may name a pid reused since: on Linux the process must also be a `mesh up`.
 */
export function runningHelper(paths: MeshPaths): number | undefined {
  if (!existsSync(paths.pid)) return undefined;
  const pid = Number.parseInt(readFileSync(paths.pid, 'utf8').trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) return undefined;
  try {
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!commandLine.includes('mesh')) return undefined;
  } catch {
    // no /proc (macOS): the pid alone
  }
  return pid;
}

export function writePid(paths: MeshPaths): void {
  writePrivateFile(paths.pid, `${process.pid}\n`);
}

/** Removes the pid file if it is this process's. */
export function removePid(paths: MeshPaths): void {
  try {
    if (readFileSync(paths.pid, 'utf8').trim() === String(process.pid)) rmSync(paths.pid);
  } catch {}
}

/** Forgets the node: its token, its identity record and config. The keys stay unless `keys` is set. */
export function forgetNode(paths: MeshPaths, options: { keys?: boolean } = {}): string[] {
  const files = [paths.nodeToken, paths.device, paths.config, paths.wireguardConfig, paths.status];
  if (options.keys) files.push(paths.wireguardKey, paths.identityKey);
  const removed: string[] = [];
  for (const file of files) {
    if (!existsSync(file)) continue;
    rmSync(file, { force: true });
    removed.push(file);
  }
  return removed;
}
