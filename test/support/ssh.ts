/**
 * OpenSSH client options for a script (tests and the ssh bench): batch mode, no known-hosts file, errors only.
 * (No TypeScript-only syntax: benchmarks load this file with Node's type stripping.)
 */
export const sshBatchOptions = [
  '-o',
  'BatchMode=yes',
  '-o',
  'StrictHostKeyChecking=no',
  '-o',
  'UserKnownHostsFile=/dev/null',
  '-o',
  'LogLevel=ERROR',
];
