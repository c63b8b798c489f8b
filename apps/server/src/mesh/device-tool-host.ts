import { MeshExecResult, MeshListResult, MeshReadResult } from '@runtools/spec';
import { ToolFailure, type ToolHost } from '../agents/builtin-tools.js';
import { DomainError } from '../errors.js';
import { DeviceOperationError, type MeshChannels } from './channels.js';

/** File operations answer within this long; a command within its own timeout. */
const fileTimeoutMs = 60_000;

/**
 * The built-in tools' host on a RunMesh device: each operation goes over the node's channel and runs there,
 * inside the root its owner chose. What the device refuses (a path outside the root, a missing file) reaches
 * the model as a tool failure; the device going away or being revoked ends the run (`node_offline`,
 * `node_revoked`), thrown as they are.
 */
export function deviceToolHost(channels: MeshChannels, nodeId: string): ToolHost {
  const call = async <T>(
    operation: Parameters<MeshChannels['call']>[1],
    timeoutMs: number,
    parse: (value: unknown) => T,
  ) => {
    let value: unknown;
    try {
      value = await channels.call(nodeId, operation, timeoutMs);
    } catch (error) {
      if (error instanceof DeviceOperationError) throw new ToolFailure(error.message);
      throw error;
    }
    try {
      return parse(value);
    } catch {
      throw new DomainError('node_offline', 'the device answered something that is not a result of this operation');
    }
  };
  return {
    exec: ({ command, cwd, timeoutMs }) =>
      call({ op: 'exec', command, ...(cwd ? { cwd } : {}), timeoutMs }, timeoutMs, (value) =>
        MeshExecResult.parse(value),
      ),
    readFile: async (path) =>
      Buffer.from(
        (await call({ op: 'read_file', path }, fileTimeoutMs, (value) => MeshReadResult.parse(value))).content,
        'base64',
      ),
    writeFile: async (path, content) => {
      await call({ op: 'write_file', path, content: content.toString('base64') }, fileTimeoutMs, () => undefined);
    },
    makeDirectory: async (path) => {
      await call({ op: 'make_directory', path }, fileTimeoutMs, () => undefined);
    },
    listFiles: async (path) =>
      (await call({ op: 'list_files', path }, fileTimeoutMs, (value) => MeshListResult.parse(value))).entries,
  };
}
