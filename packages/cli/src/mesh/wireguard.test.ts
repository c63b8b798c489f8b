import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MeshNodeConfig, MeshPeer } from '@runtools/spec';
import { describe, expect, it } from 'vitest';
import { renderWireGuardConfig, WireGuardInterface } from './wireguard.js';

const privateKey = 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=';
const peerKey = (letter: string) => `${letter.repeat(42)}A=`;

function peer(overrides: Partial<MeshPeer> = {}): MeshPeer {
  return {
    nodeId: 'mnd_0000000000000000000000',
    name: 'laptop',
    publicKey: peerKey('B'),
    address: '100.64.0.2',
    allowedIps: ['100.64.0.2/32'],
    endpoint: '192.0.2.7:41641',
    ...overrides,
  };
}

describe('WireGuard config rendering', () => {
  it('renders the interface and one peer section for each peer, endpoints only where known', () => {
    const { text, skipped } = renderWireGuardConfig({
      privateKey,
      listenPort: 41641,
      peers: [
        peer(),
        peer({ name: 'desktop', publicKey: peerKey('C'), allowedIps: ['100.64.0.3/32'], endpoint: null }),
      ],
    });
    expect(skipped).toEqual([]);
    expect(text).toBe(
      [
        '[Interface]',
        `PrivateKey = ${privateKey}`,
        'ListenPort = 41641',
        '',
        '[Peer]',
        `PublicKey = ${peerKey('B')}`,
        'AllowedIPs = 100.64.0.2/32',
        'Endpoint = 192.0.2.7:41641',
        'PersistentKeepalive = 25',
        '',
        '[Peer]',
        `PublicKey = ${peerKey('C')}`,
        'AllowedIPs = 100.64.0.3/32',
        'PersistentKeepalive = 25',
        '',
      ].join('\n'),
    );
  });

  it('renders no peer section when the node has no peers', () => {
    const { text } = renderWireGuardConfig({ privateKey, listenPort: 51820, peers: [] });
    expect(text).toBe(`[Interface]\nPrivateKey = ${privateKey}\nListenPort = 51820\n`);
  });

  it('leaves out a peer whose fields could add lines to the file', () => {
    const { text, skipped } = renderWireGuardConfig({
      privateKey,
      listenPort: 41641,
      peers: [
        peer({ name: 'bad-key', publicKey: `${peerKey('D')}\nEndpoint = 203.0.113.1:1` }),
        peer({ name: 'bad-ips', allowedIps: ['0.0.0.0/0\n[Peer]'] }),
        peer({ name: 'bad-endpoint', endpoint: '192.0.2.1:1\nPublicKey = x' }),
        peer({ name: 'good', publicKey: peerKey('E') }),
      ],
    });
    expect(skipped.map((entry) => entry.name)).toEqual(['bad-key', 'bad-ips', 'bad-endpoint']);
    expect(text.match(/\[Peer\]/g)).toHaveLength(1);
    expect(text).toContain(`PublicKey = ${peerKey('E')}`);
    expect(text).not.toContain('203.0.113.1');
  });
});

describe('a config from a control plane that routes more than mesh addresses', () => {
  it('leaves out a peer whose allowed IPs are not one mesh address (all traffic, the LAN, a wider mesh range)', () => {
    const { text, skipped } = renderWireGuardConfig({
      privateKey,
      listenPort: 41641,
      peers: [
        peer({ name: 'everything', allowedIps: ['0.0.0.0/0'] }),
        peer({ name: 'the-lan', allowedIps: ['100.64.0.2/32', '192.168.1.0/24'] }),
        peer({ name: 'whole-mesh', allowedIps: ['100.64.0.0/10'] }),
        peer({ name: 'ipv6', allowedIps: ['::/0'] }),
        peer({ name: 'good', publicKey: peerKey('E') }),
      ],
    });
    expect(skipped.map((entry) => entry.name)).toEqual(['everything', 'the-lan', 'whole-mesh', 'ipv6']);
    expect(text.match(/\[Peer\]/g)).toHaveLength(1);
  });

  it('refuses an interface address outside the mesh range, which would route it into the tunnel', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runtools-wg-'));
    try {
      // `ip` and `wg` stand-ins that succeed: only what apply decides is under test.
      const wireguard = new WireGuardInterface(
        'rtmesh-test',
        { wireguardGo: '/bin/true', wg: '/bin/true', ip: '/bin/true' },
        { privateKey, listenPort: 41641, configPath: join(dir, 'wireguard.conf') },
      );
      const config = (address: string): MeshNodeConfig => ({
        node: { id: 'mnd_0000000000000000000000', name: 'me', address: address.split('/')[0] ?? '' },
        interface: { address, publicKey: peerKey('F'), listenPort: 41641 },
        peers: [],
        revision: 1,
      });
      for (const address of ['192.168.1.10/16', '10.0.0.1/0', '100.64.0.3/1', '100.128.0.1/10', 'local'])
        await expect(wireguard.apply(config(address)), address).rejects.toThrow(/not a mesh address/);
      await expect(wireguard.apply(config('100.64.0.3/10'))).resolves.toMatchObject({ skipped: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
