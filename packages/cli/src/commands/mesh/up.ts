import { readFileSync, realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { MeshNodeName } from '@runtools/spec';
import type { Command } from 'commander';
import { readConfig } from '../../config.js';
import { exitCodes, UserError } from '../../errors.js';
import { runHelper } from '../../mesh/helper.js';
import { loadOrCreateKeys } from '../../mesh/keys.js';
import { createLink, defaultNodeName, devicePlatform, normalizeServer, waitForApproval } from '../../mesh/link.js';
import {
  type DeviceRecord,
  meshDir,
  meshPaths,
  readDevice,
  readNodeToken,
  runningHelper,
  writeDevice,
  writeNodeConfig,
  writeNodeToken,
} from '../../mesh/state.js';
import { interfaceNamePattern } from '../../mesh/wireguard.js';

interface UpFlags {
  server?: string;
  name?: string;
  root?: string;
  wireguard?: boolean;
  interface: string;
  listenPort: string;
  configDir?: string;
  allowUnconfinedBash?: boolean;
}

const version = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function rootDir(flag: string | undefined): string {
  const root = resolve(flag ?? process.cwd());
  let real: string;
  try {
    real = realpathSync(root);
  } catch {
    throw new UserError(`the root ${root} does not exist`);
  }
  if (!statSync(real).isDirectory()) throw new UserError(`the root ${root} is not a directory`);
  return real;
}

function minutesUntil(timestamp: string): number {
  return Math.max(1, Math.round((Date.parse(timestamp) - Date.now()) / 60_000));
}

/**
 * `mesh up`: links the device the first time (a code a member approves), then runs the helper in the foreground
 * until SIGINT/SIGTERM. Exit codes: 0 stopped, 1 link denied or expired, 2 the token refused (link again),
 * 3 the node was revoked (its token and identity are forgotten).
 */
export function register(mesh: Command): void {
  mesh
    .command('up')
    .description('link this device to an org (first time) and run its helper until stopped')
    .option('--server <url>', 'the control plane (default: RUNTOOLS_API_URL, your login)')
    .option('--name <name>', "the node's name (default: the hostname)")
    .option('--root <dir>', 'the only directory local agents may use (default: the current directory)')
    .option('--wireguard', 'bring up a userspace WireGuard interface to the org’s other nodes')
    .option('--interface <name>', 'the WireGuard interface', 'rtmesh0')
    .option('--listen-port <port>', "WireGuard's UDP port", '41641')
    .option('--config-dir <dir>', 'keys and state (default: RUNTOOLS_MESH_DIR, ~/.runtools/mesh)')
    .option('--allow-unconfined-bash', 'without bubblewrap, run bash anyway (it can then reach all your files)')
    .action(async (flags: UpFlags) => {
      const paths = meshPaths(meshDir(flags.configDir));
      const running = runningHelper(paths);
      if (running !== undefined) {
        throw new UserError(
          `a helper is already running for ${paths.dir} (pid ${running})`,
          'stop it: runtools mesh down',
          exitCodes.conflict,
        );
      }
      const serverFlag = flags.server ?? process.env.RUNTOOLS_API_URL ?? readConfig()?.url;
      if (!serverFlag) {
        throw new UserError('no server: pass --server URL', 'or log in first: runtools login --url URL');
      }
      const server = normalizeServer(serverFlag);
      const name = flags.name ?? defaultNodeName();
      if (!MeshNodeName.safeParse(name).success) {
        throw new UserError(`--name ${name} is not a node name`, 'lowercase letters, digits and single dashes');
      }
      const root = rootDir(flags.root);
      const listenPort = Number(flags.listenPort);
      if (!Number.isInteger(listenPort) || listenPort < 1 || listenPort > 65535) {
        throw new UserError(`--listen-port ${flags.listenPort} is not a port`);
      }
      if (!interfaceNamePattern.test(flags.interface)) {
        throw new UserError(`--interface ${flags.interface} is not an interface name (at most 15 characters)`);
      }
      const keys = loadOrCreateKeys(paths);

      let device = readDevice(paths);
      let nodeToken = readNodeToken(paths);
      if (device && nodeToken && device.server !== server) {
        throw new UserError(
          `this device is linked to ${device.server}, not ${server}`,
          `use another --config-dir, or forget that link: runtools mesh down --forget --config-dir ${paths.dir}`,
        );
      }
      if (!device || !nodeToken) {
        const link = await createLink(server, {
          name,
          publicKey: keys.wireguardPublicKey,
          identityKey: keys.identityPublicKey,
          platform: devicePlatform(),
          version,
        });
        log(
          `To link this device, approve code ${link.code} (expires in ${minutesUntil(link.expiresAt)} minutes):\n` +
            `  runtools mesh approve ${link.code}`,
        );
        process.stdout.write(`link code: ${link.code}\n`);
        const approved = await waitForApproval(server, link, { log });
        writeNodeToken(paths, approved.nodeToken);
        writeNodeConfig(paths, approved.config);
        nodeToken = approved.nodeToken;
        device = {
          server,
          nodeId: approved.node.id,
          name: approved.node.name,
          address: approved.node.address,
          root,
          listenPort: null,
        };
        process.stdout.write(`linked as ${approved.node.name} (${approved.node.address})\n`);
      }
      const current: DeviceRecord = { ...device, root, listenPort: flags.wireguard ? listenPort : null };
      writeDevice(paths, current);
      await runHelper({
        paths,
        device: current,
        nodeToken,
        keys,
        version,
        wireguard: flags.wireguard ? { interfaceName: flags.interface, listenPort } : null,
        allowUnconfined: flags.allowUnconfinedBash === true,
        log,
      });
    });
}
