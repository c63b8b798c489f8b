import type { Deleted, SshKey } from '@runtools/spec';
import type { HttpClient } from '../http.js';
import { PagedList } from '../paged-list.js';

/** SSH public keys registered for the org; the SSH gateway matches clients against them. */
export class SshKeys {
  constructor(private readonly http: HttpClient) {}

  /**
   * Registers a public key (validated and fingerprinted like `ssh-keygen -lf`).
   * @example await rt.sshKeys.add({ name: 'laptop', publicKey: readFileSync(`${homedir()}/.ssh/id_ed25519.pub`, 'utf8') })
   */
  add(input: { name: string; publicKey: string }): Promise<SshKey> {
    return this.http.call('sshKeysAdd', { body: input });
  }

  /** @example const keys = await rt.sshKeys.list() */
  list(): PagedList<SshKey> {
    return new PagedList((page) => this.http.call('sshKeysList', { query: page }));
  }

  /** @example await rt.sshKeys.remove('ssh_…') */
  remove(id: string): Promise<Deleted> {
    return this.http.call('sshKeysRemove', { params: { sshKeyId: id } });
  }
}
