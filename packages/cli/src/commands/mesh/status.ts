import type { Command } from 'commander';
import { globalOptions } from '../../context.js';
import { meshDir, meshPaths, readDevice, readHelperStatus, readNodeToken, runningHelper } from '../../mesh/state.js';
import { output, printRecord, printTable } from '../../output.js';

/** `mesh status`: the node this device is linked as and what its helper last reported. */
export function register(mesh: Command): void {
  mesh
    .command('status')
    .description('the node this device is linked as, and whether its helper runs and is connected')
    .option('--config-dir <dir>', 'keys and state (default: RUNTOOLS_MESH_DIR, ~/.runtools/mesh)')
    .action((flags: { configDir?: string }, command: Command) => {
      const paths = meshPaths(meshDir(flags.configDir));
      const device = readDevice(paths);
      const linked = device !== undefined && readNodeToken(paths) !== undefined;
      const pid = runningHelper(paths) ?? null;
      // A status left by a helper that has stopped says nothing about now: only its last heartbeat stays.
      const reported = readHelperStatus(paths);
      const helper = reported && pid !== null && reported.pid === pid ? reported : undefined;
      const report = {
        configDir: paths.dir,
        linked,
        node: device ? { id: device.nodeId, name: device.name, address: device.address } : null,
        server: device?.server ?? null,
        root: device?.root ?? null,
        helper: { running: pid !== null, pid },
        connected: helper?.connected ?? false,
        lastHeartbeatAt: helper?.lastHeartbeatAt ?? reported?.lastHeartbeatAt ?? null,
        confined: helper?.confined ?? null,
        interface: helper?.interface ?? null,
        revision: helper?.revision ?? null,
        peers: helper?.peers ?? [],
      };
      output(globalOptions(command).json, report, () => {
        if (!device) {
          process.stdout.write(`this device is not linked (${paths.dir}); run: runtools mesh up --server URL\n`);
          return;
        }
        printRecord([
          ['node', `${device.name} (${device.address})`],
          ['id', device.nodeId],
          ['server', device.server],
          ['root', device.root],
          ['helper', pid !== null ? `running (pid ${pid})` : 'not running'],
          ['connected', report.connected ? 'yes' : 'no'],
          ['last heartbeat', report.lastHeartbeatAt],
          ['bash', report.confined === null ? null : report.confined ? 'confined (bubblewrap)' : 'not confined'],
          ['interface', report.interface],
          ['config revision', report.revision],
        ]);
        if (helper) {
          process.stdout.write('\n');
          printTable(
            report.peers,
            [
              ['peer', (peer) => peer.name],
              ['address', (peer) => peer.address],
              ['endpoint', (peer) => peer.endpoint],
            ],
            'no peers',
          );
        }
      });
    });
}
