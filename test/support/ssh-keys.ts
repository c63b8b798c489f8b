import ssh2 from 'ssh2';

/**
 * An Ed25519 key pair from ssh2 (its private key in the OpenSSH format its client reads), drawn again when the
 * public key is malformed: ssh2's generator drops a public key's leading zero byte (about one key in 256), and
 * the server rightly refuses a 31-byte Ed25519 key.
 */
export function ed25519KeyPair(): { public: string; private: string } {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    const blob = Buffer.from(pair.public.split(' ')[1] ?? '', 'base64');
    const typeLength = blob.readUInt32BE(0);
    if (blob.readUInt32BE(4 + typeLength) === 32) return pair;
  }
}
