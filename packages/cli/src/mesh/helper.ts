import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import type { MeshNodeConfig } from '@runtools/spec';
import { exitCodes, UserError } from '../errors.js';
import { MeshChannel } from './channel.js';
import { type Confinement, detectConfinement } from './exec.js';
import type { DeviceKeys } from './keys.js';
import { runOperation } from './operations.js';
import {
  type DeviceRecord,
  forgetNode,
  type HelperStatus,
  type MeshPaths,
  readNodeConfig,
  removePid,
  runningHelper,
  writeHelperStatus,
  writeNodeConfig,
  writePid,
} from './state.js';
import { requireWireGuardTools, WireGuardInterface } from './wireguard.js';

/** Exit codes of `runtools mesh up` once it runs (beside the CLI's usual ones for link and usage errors). */
export const helperExitCodes = { stopped: 0, refused: 2, revoked: 3 } as const;

export interface HelperOptions {
  paths: MeshPaths;
  device: DeviceRecord;
  nodeToken: string;
  keys: DeviceKeys;
  version: string;
  /** With --wireguard: the interface to bring up and the port it listens on. */
  wireguard: { interfaceName: string; listenPort: number } | null;
  allowUnconfined: boolean;
  log: (line: string) => void;
}

function realHome(): string | null {
  try {
    return realpathSync(homedir());
  } catch {
    return null;
  }
}

/**
 * The running helper: one channel to the control plane, the operations it is called for, and with --wireguard
 * the interface kept in sync with the node's config. Resolves when stopped by SIGINT/SIGTERM (interface torn
 * down, pid file removed); throws a UserError when the node is revoked (its token and identity forgotten too)
 * or its token refused.
 */
export async function runHelper(options: HelperOptions): Promise<void> {
  const { paths, device, log } = options;
  const already = runningHelper(paths);
  if (already !== undefined && already !== process.pid) {
    throw new UserError(
      `a helper is already running for ${paths.dir} (pid ${already})`,
      'stop it: runtools mesh down',
      exitCodes.conflict,
    );
  }
  const confinement: Confinement = detectConfinement({ allowUnconfined: options.allowUnconfined });
  if (confinement.kind === 'refused') log(`bash is refused here: bubblewrap (bwrap) is not installed`);
  if (confinement.kind === 'unconfined')
    log('bash runs unconfined (--allow-unconfined-bash): it can reach all your files');
  const wireguard = options.wireguard
    ? new WireGuardInterface(options.wireguard.interfaceName, requireWireGuardTools(), {
        privateKey: options.keys.wireguardPrivateKey,
        listenPort: options.wireguard.listenPort,
        configPath: paths.wireguardConfig,
      })
    : undefined;

  const status: HelperStatus = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    server: device.server,
    root: device.root,
    confined: confinement.kind === 'bwrap',
    connected: false,
    lastHeartbeatAt: null,
    interface: wireguard?.name ?? null,
    revision: null,
    peers: [],
  };
  const saveStatus = () => {
    try {
      writeHelperStatus(paths, status);
    } catch (error) {
      log(`could not write ${paths.status}: ${(error as Error).message}`);
    }
  };

  writePid(paths);
  let channel: MeshChannel | undefined;
  let failure: Error | undefined;
  let stopRequested = false;
  let revoked = false;
  const onSignal = () => {
    stopRequested = true;
    channel?.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    saveStatus();
    if (wireguard) {
      await wireguard.start(log);
      wireguard.onUnexpectedExit = (output) => {
        failure = new UserError(`wireguard-go stopped: ${output || 'no output'}`, undefined, exitCodes.internal);
        channel?.stop();
      };
      // The last config known gives the interface its address and peers before the channel is up.
      const saved = readNodeConfig(paths);
      if (saved) await wireguard.apply(saved).catch((error: Error) => log(error.message));
    }
    const applyConfig = async (config: MeshNodeConfig) => {
      writeNodeConfig(paths, config);
      status.revision = config.revision;
      status.peers = config.peers.map((peer) => ({
        nodeId: peer.nodeId,
        name: peer.name,
        address: peer.address,
        endpoint: peer.endpoint,
      }));
      saveStatus();
      if (wireguard) {
        const rendered = await wireguard.apply(config);
        for (const skipped of rendered.skipped) log(`peer ${skipped.name} left out: ${skipped.reason}`);
      }
    };
    const operationContext = { root: device.root, home: realHome(), confinement };
    channel = new MeshChannel({
      server: device.server,
      nodeToken: options.nodeToken,
      identityKey: options.keys.identityPrivateKey,
      hello: {
        version: options.version,
        listenPort: wireguard ? wireguard.listenPort : null,
        root: device.root,
        confined: confinement.kind === 'bwrap',
      },
      onConfig: applyConfig,
      onOperation: (operation, signal) => runOperation(operationContext, operation, signal),
      onConnected: (connected) => {
        status.connected = connected;
        saveStatus();
      },
      onHeartbeat: () => {
        status.lastHeartbeatAt = new Date().toISOString();
        saveStatus();
      },
      log,
    });
    if (stopRequested) return;
    const end = await channel.run();
    if (failure) throw failure;
    switch (end.kind) {
      case 'stopped':
        return;
      case 'revoked':
        revoked = true;
        await wireguard?.stop();
        forgetNode(paths);
        throw new UserError(
          'this node was revoked',
          'a revoked device comes back only through a new link: runtools mesh up',
          helperExitCodes.revoked,
        );
      case 'refused':
        throw new UserError(
          `the control plane refused this node's token${end.reason ? ` (${end.reason})` : ''}`,
          'link this device again: runtools mesh down --forget, then runtools mesh up',
          helperExitCodes.refused,
        );
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (wireguard) wireguard.onUnexpectedExit = undefined;
    await wireguard?.stop();
    status.connected = false;
    if (!revoked) saveStatus();
    removePid(paths);
  }
}
