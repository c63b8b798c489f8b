import type { Command } from 'commander';
import { UserError } from '../../errors.js';
import { forgetNode, meshDir, meshPaths, processAlive, runningHelper } from '../../mesh/state.js';

const stopWaitMs = 10_000;

/** `mesh down`: stops the helper (it tears its interface down); `--forget` also drops the node and the keys. */
export function register(mesh: Command): void {
  mesh
    .command('down')
    .description("stop this device's helper (--forget: also its node token and keys)")
    .option('--config-dir <dir>', 'keys and state (default: RUNTOOLS_MESH_DIR, ~/.runtools/mesh)')
    .option('--forget', 'also delete the node token, the node record and the keys (linking again makes new ones)')
    .action(async (flags: { configDir?: string; forget?: boolean }) => {
      const paths = meshPaths(meshDir(flags.configDir));
      const pid = runningHelper(paths);
      if (pid === undefined) {
        process.stdout.write('the helper is not running\n');
      } else {
        try {
          process.kill(pid, 'SIGTERM');
        } catch (error) {
          throw new UserError(`could not stop the helper (pid ${pid}): ${(error as Error).message}`);
        }
        const deadline = Date.now() + stopWaitMs;
        while (processAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
        if (processAlive(pid)) {
          throw new UserError(
            `the helper (pid ${pid}) did not stop within ${stopWaitMs / 1000} s`,
            `its interface may still be up; kill -9 ${pid}, then ip link del <interface>`,
          );
        }
        process.stdout.write(`stopped the helper (pid ${pid})\n`);
      }
      if (flags.forget) {
        forgetNode(paths, { keys: true });
        process.stdout.write(`forgot this device's node and keys (${paths.dir})\n`);
      }
    });
}
