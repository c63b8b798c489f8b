import { z } from 'zod';
import { idSchema, PageQuery, pageOf, Slug, Timestamp } from './common.js';

/**
 * RunMesh: devices linked to an org. A device (`runtools mesh up`) makes a link with its public keys and gets
 * a short code; a member approves the code; the device, polling, receives a node identity (an id, a name, a
 * mesh address), a node token and its WireGuard config. It then keeps one outbound WebSocket to the control
 * plane (`/v1/mesh/channel`): heartbeats, config pushed when peers join or leave, and work dispatched to it
 * (the built-in tools of `local` agents). Private keys never leave the device.
 */

/** How long a link code may be approved. */
export const meshLinkSeconds = 10 * 60;
/** The range every org's mesh addresses come from (carrier-grade NAT space, as Tailscale uses). */
export const meshAddressRange = '100.64.0.0/10';
export const meshAddressPrefixLength = 10;

/** A link code as people type it: 8 characters from an alphabet without look-alikes, e.g. `KDWX-7Q3M`. */
export const meshCodeAlphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
export const MeshLinkCode = z
  .string()
  .trim()
  .toUpperCase()
  .transform((value) => value.replace(/[\s-]/g, ''))
  .pipe(z.string().regex(/^[A-HJ-NP-Z2-9]{8}$/, { message: 'a link code such as ABCD-2345' }))
  .transform((value) => `${value.slice(0, 4)}-${value.slice(4)}`)
  .meta({ example: 'KDWX-7Q3M' });

/** A WireGuard (X25519) public key: 32 bytes in standard base64. */
export const WireGuardKey = z
  .string()
  .regex(/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/, { message: 'a WireGuard public key (32 bytes, base64)' });
/** An Ed25519 public key: 32 bytes in base64url without padding. The device signs the channel's challenge. */
export const IdentityKey = z
  .string()
  .regex(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/, { message: 'an Ed25519 public key (32 bytes, base64url)' });

/** A node's name: a DNS label (a hostname), unique among the org's active nodes. */
export const MeshNodeName = Slug;
export const MeshPlatform = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,39}$/, { message: 'a platform such as linux-x64 or darwin-arm64' });
export const MeshVersion = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9.+_-]{0,39}$/, { message: 'a version such as 0.1.0' });

export const MeshLinkCreateRequest = z
  .object({
    name: MeshNodeName.meta({ description: "the device's name (its hostname); made unique in the org on approval" }),
    publicKey: WireGuardKey.meta({ description: "the device's WireGuard public key" }),
    identityKey: IdentityKey.meta({
      description: "the device's Ed25519 identity key: it signs the channel's challenge",
    }),
    platform: MeshPlatform,
    version: MeshVersion.optional(),
  })
  .strict()
  .meta({ id: 'MeshLinkCreateRequest' });
export type MeshLinkCreateRequest = z.infer<typeof MeshLinkCreateRequest>;

export const MeshLinkCreated = z
  .object({
    linkId: idSchema('meshLink'),
    code: z.string(),
    /** Sent back as `Authorization: Bearer <pollToken>` when polling; shown only here. */
    pollToken: z.string(),
    expiresAt: Timestamp,
    pollIntervalSeconds: z.number().int(),
  })
  .meta({ id: 'MeshLinkCreated' });
export type MeshLinkCreated = z.infer<typeof MeshLinkCreated>;

export const MeshLinkStatus = z.enum(['pending', 'approved', 'denied', 'expired']).meta({ id: 'MeshLinkStatus' });
export type MeshLinkStatus = z.infer<typeof MeshLinkStatus>;

/** A peer in a node's WireGuard config: another active node of the org. */
export const MeshPeer = z
  .object({
    nodeId: idSchema('meshNode'),
    name: z.string(),
    publicKey: z.string(),
    address: z.string(),
    /** The addresses routed to this peer: its mesh address as a /32. */
    allowedIps: z.array(z.string()),
    /** Where its WireGuard listens, as the control plane saw it (`ip:port`); null until it has connected. */
    endpoint: z.string().nullable(),
  })
  .meta({ id: 'MeshPeer' });
export type MeshPeer = z.infer<typeof MeshPeer>;

/** A node's WireGuard config: its interface and its peers. Never holds a private key (the device has it). */
export const MeshNodeConfig = z
  .object({
    node: z.object({ id: idSchema('meshNode'), name: z.string(), address: z.string() }),
    interface: z.object({
      /** The node's address with the mesh's prefix length, e.g. `100.64.0.3/10`. */
      address: z.string(),
      publicKey: z.string(),
      listenPort: z.number().int().nullable(),
    }),
    peers: z.array(MeshPeer),
    /** Moves on whenever any node of the org joins, leaves or moves; a device applies a newer one. */
    revision: z.number().int(),
  })
  .meta({ id: 'MeshNodeConfig' });
export type MeshNodeConfig = z.infer<typeof MeshNodeConfig>;

/** What a device polling its link receives: the node, once, with its token and config when approved. */
export const MeshLinkPoll = z
  .object({
    linkId: idSchema('meshLink'),
    status: MeshLinkStatus,
    expiresAt: Timestamp,
    node: z.object({ id: idSchema('meshNode'), name: z.string(), address: z.string() }).optional(),
    /** The node's secret (`rtn_…`): shown once, to the device that made the link. */
    nodeToken: z.string().optional(),
    config: MeshNodeConfig.optional(),
  })
  .meta({ id: 'MeshLinkPoll' });
export type MeshLinkPoll = z.infer<typeof MeshLinkPoll>;

/** A pending link as the member about to approve it sees it: what the device says it is, and where from. */
export const MeshLinkInfo = z
  .object({
    linkId: idSchema('meshLink'),
    code: z.string(),
    status: MeshLinkStatus,
    name: z.string(),
    platform: z.string(),
    version: z.string().nullable(),
    publicKey: z.string(),
    requestedFrom: z.string().nullable(),
    createdAt: Timestamp,
    expiresAt: Timestamp,
  })
  .meta({ id: 'MeshLinkInfo' });
export type MeshLinkInfo = z.infer<typeof MeshLinkInfo>;

export const MeshLinkDecision = z
  .object({
    code: MeshLinkCode,
    /** Approving: another name for the node than the one the device asked for. */
    name: MeshNodeName.optional(),
  })
  .strict()
  .meta({ id: 'MeshLinkDecision' });
export type MeshLinkDecision = z.infer<typeof MeshLinkDecision>;

export const MeshNodeStatus = z.enum(['active', 'revoked']);

export const MeshNode = z
  .object({
    id: idSchema('meshNode'),
    name: z.string(),
    address: z.string(),
    status: MeshNodeStatus,
    platform: z.string(),
    version: z.string().nullable(),
    publicKey: z.string(),
    owner: z.object({ memberId: z.string(), email: z.string() }),
    /** Members the owner allowed to dispatch local agent runs to it (the owner always may). */
    allowedMembers: z.array(z.object({ memberId: z.string(), email: z.string() })),
    online: z.boolean(),
    lastSeenAt: Timestamp.nullable(),
    endpoint: z.string().nullable(),
    createdAt: Timestamp,
    revokedAt: Timestamp.nullable(),
  })
  .meta({ id: 'MeshNode' });
export type MeshNode = z.infer<typeof MeshNode>;

export const MeshNodeListQuery = z.object({
  ...PageQuery,
  status: MeshNodeStatus.optional(),
});
export const MeshNodePage = pageOf(MeshNode);

export const MeshNodeRef = z.string().min(1).max(63).meta({ description: 'a node id (`mnd_…`) or its name' });

export const MeshAllowRequest = z
  .object({
    /** The member (`mem_…`) or their email. */
    member: z.string().min(1).max(320),
  })
  .strict()
  .meta({ id: 'MeshAllowRequest' });
export type MeshAllowRequest = z.infer<typeof MeshAllowRequest>;

export const meshAuditActions = [
  'link.created',
  'link.approved',
  'link.denied',
  'link.expired',
  'node.connected',
  'node.disconnected',
  'node.config_fetched',
  'node.dispatched',
  'node.allowed',
  'node.disallowed',
  'node.revoked',
  'node.run',
] as const;
export const MeshAuditAction = z.enum(meshAuditActions);
export type MeshAuditAction = z.infer<typeof MeshAuditAction>;

export const MeshAuditEntry = z
  .object({
    id: idSchema('meshAudit'),
    at: Timestamp,
    action: MeshAuditAction,
    /** Who did it: a key, a node (its token), or the platform (an expiry). */
    actor: z.object({ kind: z.string(), id: z.string() }),
    nodeId: z.string().nullable(),
    linkId: z.string().nullable(),
    /** The address the request or connection came from, where there was one. */
    from: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'MeshAuditEntry' });
export type MeshAuditEntry = z.infer<typeof MeshAuditEntry>;

export const MeshAuditQuery = z.object({
  ...PageQuery,
  nodeId: idSchema('meshNode').optional(),
  action: MeshAuditAction.optional(),
});
export const MeshAuditPage = pageOf(MeshAuditEntry);

/** A run a device starts for itself with its node token (`POST /v1/run`). */
export const MeshRunRequest = z
  .object({
    agent: Slug,
    prompt: z.string().min(1).max(1_000_000),
    threadId: idSchema('thread').optional(),
  })
  .strict()
  .meta({ id: 'MeshRunRequest' });
export type MeshRunRequest = z.infer<typeof MeshRunRequest>;

export const MeshRunStarted = z
  .object({
    runId: idSchema('run'),
    threadId: idSchema('thread'),
    /** The run's event log (`GET /v1/runs/{rolloutId}/events`): its id is the run's. */
    rolloutId: idSchema('run'),
  })
  .meta({ id: 'MeshRunStarted' });
export type MeshRunStarted = z.infer<typeof MeshRunStarted>;

// ---------------------------------------------------------------------------------------------------------
// The node channel: `GET /v1/mesh/channel` upgraded to a WebSocket, `Authorization: Bearer <nodeToken>`.
// Text frames, one JSON message each. The server speaks first with a challenge; the device answers `hello`
// signed with its identity key; the server answers `welcome` (or closes). Closing codes: 4401 the token or
// signature is refused (do not retry), 4403 the node was revoked (tear down, do not retry), 4409 another
// connection of the same node replaced this one, 1001 the server is stopping (reconnect).
// ---------------------------------------------------------------------------------------------------------

export const meshChannelPath = '/v1/mesh/channel';
export const meshCloseCodes = { refused: 4401, revoked: 4403, replaced: 4409 } as const;
/** What the device signs: this prefix, then the challenge's nonce. */
export const meshChallengePrefix = 'runtools-mesh-channel-v1:';
/** Largest channel message either side accepts. */
export const maxMeshMessageBytes = 16 * 1024 * 1024;

/** Operations a device executes for local agents, inside the root its owner chose (`--root`). */
export const MeshOperation = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('exec'),
    /** Run by bash (sh when there is none), confined to the device's root. */
    command: z.string().min(1),
    /** Absolute, inside the root; the root by default. */
    cwd: z.string().optional(),
    timeoutMs: z.number().int().min(1).max(3_600_000),
  }),
  z.object({ op: z.literal('read_file'), path: z.string().min(1) }),
  /** `content` is base64. */
  z.object({ op: z.literal('write_file'), path: z.string().min(1), content: z.string() }),
  z.object({ op: z.literal('make_directory'), path: z.string().min(1) }),
  z.object({ op: z.literal('list_files'), path: z.string().min(1) }),
]);
export type MeshOperation = z.infer<typeof MeshOperation>;

export const MeshExecResult = z.object({
  exitCode: z.number().int(),
  stdout: z.string(),
  stderr: z.string(),
  timedOut: z.boolean().optional(),
});
export const MeshReadResult = z.object({ content: z.string() });
export const MeshListResult = z.object({
  entries: z.array(
    z.object({ name: z.string(), type: z.enum(['file', 'directory', 'symlink', 'other']), size: z.number() }),
  ),
});

/** Why a device refused or failed an operation; `outside_root` and `not_found` reach the model as tool errors. */
export const MeshOperationErrorCode = z.enum([
  'outside_root',
  'not_found',
  'is_directory',
  'not_directory',
  'too_large',
  'unconfined',
  'failed',
]);

export const MeshServerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('challenge'), nonce: z.string() }),
  z.object({
    type: z.literal('welcome'),
    node: z.object({ id: z.string(), name: z.string(), address: z.string() }),
    config: MeshNodeConfig,
    heartbeatSeconds: z.number().int(),
  }),
  z.object({ type: z.literal('config'), config: MeshNodeConfig }),
  z.object({ type: z.literal('call'), id: z.string(), operation: MeshOperation }),
  z.object({ type: z.literal('cancel'), id: z.string() }),
  z.object({ type: z.literal('revoked'), reason: z.string() }),
]);
export type MeshServerMessage = z.infer<typeof MeshServerMessage>;

export const MeshDeviceMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    /** Ed25519 signature (base64url) of `meshChallengePrefix + nonce`. */
    signature: z.string().max(200),
    version: MeshVersion.optional(),
    /** Where its WireGuard listens (its peers reach it at the address it connected from, on this port). */
    listenPort: z.number().int().min(1).max(65535).nullable(),
    /** The root its local agents work in, as the device names it. */
    root: z.string().max(4096).nullable(),
    /** Whether `bash` runs confined to the root here (false: the device refuses bash). */
    confined: z.boolean(),
  }),
  z.object({ type: z.literal('heartbeat') }),
  z.object({
    type: z.literal('result'),
    id: z.string(),
    ok: z.boolean(),
    value: z.unknown().optional(),
    error: z.object({ code: MeshOperationErrorCode, message: z.string().max(10_000) }).optional(),
  }),
]);
export type MeshDeviceMessage = z.infer<typeof MeshDeviceMessage>;
