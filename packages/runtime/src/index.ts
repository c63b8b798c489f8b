export { daemonPath, daemonSocket, type SandboxLimits, writeBundleConfig } from './bundle.js';
export {
  type BackgroundProcess,
  ChannelError,
  type ChannelStream,
  DaemonChannel,
  exitCodeOf,
  type FileAttributes,
  type FileEntry,
  type ProcessHandlers,
  type ProcessOutcome,
  type ProcessRequest,
  type RunningProcess,
  type WatchEvent,
} from './channel.js';
export { CommandError, type CommandResult, mustRun, type RunningCommand, runCommand, spawnCommand } from './command.js';
export { ConfinedTree, type TreeEntry, type TreeUsage } from './confined-tree.js';
export { availableDrivers, type DriverReport, doctor } from './doctor.js';
export type {
  DriverName,
  DriverSandboxSpec,
  ExecRequest,
  ExecResult,
  RuntimeState,
  SandboxDriver,
  SandboxStats,
  SnapshotCapture,
} from './driver.js';
export { ContainerDriver } from './drivers/container/container-driver.js';
export { GvisorDriver } from './drivers/gvisor/gvisor-driver.js';
export { type SnapshotSpec, snapshotSpec } from './drivers/oci-driver.js';
export { type HostTools, hostTools, privateCgroupNamespace } from './host.js';
export { debianMirror, ensureBaseRootfs, type RootfsBuild } from './rootfs.js';
export {
  type BuiltinTemplate,
  type BuiltTemplate,
  builtinLookup,
  builtinTemplates,
  TemplateBuilder,
  type TemplateLookup,
  type TemplateSpec,
  templateAliases,
} from './templates.js';
