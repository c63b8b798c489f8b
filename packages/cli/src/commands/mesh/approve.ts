import type { Command } from 'commander';
import { client, globalOptions } from '../../context.js';
import { output } from '../../output.js';

export function register(mesh: Command): void {
  mesh
    .command('approve <code>')
    .description("approve a device's link code (printed by `runtools mesh up`): it joins the org as a node you own")
    .option('--name <name>', 'another name for the node than the one the device asked for')
    .action(async (code: string, flags: { name?: string }, command: Command) => {
      const rt = client(command);
      const node = await rt.mesh.links.approve(code, flags.name ? { name: flags.name } : {});
      output(globalOptions(command).json, node, () =>
        process.stdout.write(
          `approved: node ${node.name} (${node.id}) at ${node.address}, owned by ${node.owner.email}\n`,
        ),
      );
    });
  mesh
    .command('deny <code>')
    .description("deny a device's link code: the device is told and the code is spent")
    .action(async (code: string, _flags, command: Command) => {
      const link = await client(command).mesh.links.deny(code);
      output(globalOptions(command).json, link, () =>
        process.stdout.write(`denied: ${link.name} (${link.platform}, from ${link.requestedFrom ?? 'unknown'})\n`),
      );
    });
  mesh
    .command('link <code>')
    .description('show the device a link code names, and where it asked from, before deciding')
    .action(async (code: string, _flags, command: Command) => {
      const link = await client(command).mesh.links.get(code);
      output(globalOptions(command).json, link, () =>
        process.stdout.write(
          `${link.code}: ${link.name} (${link.platform}${link.version ? ` ${link.version}` : ''}), from ${link.requestedFrom ?? 'unknown'}, ${link.status}, expires ${link.expiresAt}\n`,
        ),
      );
    });
}
