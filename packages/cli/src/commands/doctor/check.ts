import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output, printTable } from '../../output.js';

export function register(program: Command): void {
  program
    .command('doctor')
    .description('which sandbox drivers work on this machine, why not, and what each costs (measured)')
    .option('--data-dir <dir>', 'the server data dir (default ~/.runtools)')
    .option('--build', 'build the base root filesystem first when it is missing (debootstrap, about a minute)')
    .action(async (flags: { dataDir?: string; build?: boolean }, command: Command) => {
      const { doctor, ensureBaseRootfs, hostTools } = await import('@runtools/runtime');
      const { defaultDataDir } = await import('@runtools/server');
      const dataDir = resolve(flags.dataDir ?? process.env.RUNTOOLS_DATA_DIR ?? defaultDataDir());
      const rootfsCache = resolve(process.env.RUNTOOLS_ROOTFS_DIR ?? join(dataDir, 'rootfs'));
      let baseRootfs: string | undefined = join(rootfsCache, 'bookworm-minbase');
      if (flags.build) {
        const { debootstrap } = hostTools();
        if (!debootstrap)
          throw new UserError('debootstrap is not installed', 'run scripts/install-runtime.sh (./dev setup does)');
        baseRootfs = (
          await ensureBaseRootfs({
            cacheDir: rootfsCache,
            debootstrap,
            onProgress: (line) => process.stderr.write(`${line}\n`),
          })
        ).path;
      }
      const reports = await doctor({ stateDir: join(dataDir, 'sandboxes'), baseRootfs });
      output(globalOptions(command).json, reports, () =>
        printTable(
          reports,
          [
            ['driver', (report) => report.driver],
            ['works', (report) => (report.ok ? 'yes' : 'no')],
            ['create+exec ms', (report) => report.createMs?.toFixed(0)],
            ['exec ms', (report) => report.execMs?.toFixed(0)],
            ['why not / what it costs', (report) => report.reason ?? report.note],
          ],
          'No drivers.',
        ),
      );
      if (!reports.some((report) => report.ok)) process.exitCode = 1;
    });
}
