import type { MeshNode } from '@runtools/spec';
import type { Command } from 'commander';
import { registerList } from '../../command-kinds.js';
import { client, globalOptions } from '../../context.js';
import { UserError } from '../../errors.js';
import { output } from '../../output.js';

export function register(mesh: Command): void {
  registerList<MeshNode, { status?: string }>(mesh, {
    name: 'nodes',
    description: "the org's nodes (linked devices), newest first",
    options: (command) => command.option('--status <status>', 'active or revoked'),
    fetch: (rt, flags) => {
      if (flags.status !== undefined && flags.status !== 'active' && flags.status !== 'revoked')
        throw new UserError(`--status must be active or revoked, not "${flags.status}"`);
      return rt.mesh.nodes.list(flags.status ? { status: flags.status } : {});
    },
    columns: [
      ['name', (node) => node.name],
      ['address', (node) => node.address],
      ['status', (node) => (node.status === 'revoked' ? 'revoked' : node.online ? 'online' : 'offline')],
      ['owner', (node) => node.owner.email],
      ['platform', (node) => node.platform],
      ['last seen', (node) => node.lastSeenAt],
      ['id', (node) => node.id],
    ],
    empty: 'No nodes: run `runtools mesh up --server URL` on a device, then `runtools mesh approve CODE`.',
  });
  mesh
    .command('node <node>')
    .description('a node by name or id')
    .action(async (ref: string, _flags, command: Command) => {
      const node = await client(command).mesh.nodes.get(ref);
      output(globalOptions(command).json, node, () => {
        const lines = [
          `${node.name} (${node.id})`,
          `  address   ${node.address}`,
          `  status    ${node.status === 'revoked' ? `revoked at ${node.revokedAt}` : node.online ? 'online' : 'offline'}`,
          `  owner     ${node.owner.email}`,
          `  allowed   ${node.allowedMembers.map((member) => member.email).join(', ') || '(owner only)'}`,
          `  platform  ${node.platform}${node.version ? ` ${node.version}` : ''}`,
          `  endpoint  ${node.endpoint ?? '-'}`,
          `  last seen ${node.lastSeenAt ?? 'never'}`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      });
    });
  mesh
    .command('config <node>')
    .description("a node's WireGuard config: interface and peers (never a private key)")
    .action(async (ref: string, _flags, command: Command) => {
      const config = await client(command).mesh.nodes.config(ref);
      output(globalOptions(command).json, config, () => {
        const lines = [
          `# ${config.node.name} (${config.node.id}), revision ${config.revision}`,
          '[Interface]',
          `Address = ${config.interface.address}`,
          ...(config.interface.listenPort ? [`ListenPort = ${config.interface.listenPort}`] : []),
          '# PrivateKey: on the device only',
        ];
        for (const peer of config.peers)
          lines.push(
            '',
            `[Peer] # ${peer.name}`,
            `PublicKey = ${peer.publicKey}`,
            `AllowedIPs = ${peer.allowedIps.join(', ')}`,
            ...(peer.endpoint ? [`Endpoint = ${peer.endpoint}`] : []),
          );
        process.stdout.write(`${lines.join('\n')}\n`);
      });
    });
  mesh
    .command('revoke <node>')
    .description('revoke a node at once: its token stops working, its work fails, its peers drop it')
    .action(async (ref: string, _flags, command: Command) => {
      const node = await client(command).mesh.nodes.revoke(ref);
      output(globalOptions(command).json, node, () =>
        process.stdout.write(`revoked ${node.name} (${node.id}) at ${node.revokedAt}\n`),
      );
    });
  mesh
    .command('allow <node> <member>')
    .description('let another member (email or id) run local agents on the node')
    .option('--remove', 'take the leave back')
    .action(async (ref: string, member: string, flags: { remove?: boolean }, command: Command) => {
      const rt = client(command);
      const node = flags.remove ? await rt.mesh.nodes.disallow(ref, member) : await rt.mesh.nodes.allow(ref, member);
      output(globalOptions(command).json, node, () =>
        process.stdout.write(
          `${node.name}: ${node.allowedMembers.map((each) => each.email).join(', ') || 'only its owner'} may run agents on it\n`,
        ),
      );
    });
}
