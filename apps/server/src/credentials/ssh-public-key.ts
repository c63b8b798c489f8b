import { createHash, createPublicKey } from 'node:crypto';

export class SshKeyFormatError extends Error {}

export interface ParsedSshKey {
  algorithm: string;
  bits: number | null;
  /** `SHA256:<base64 without padding>`, exactly as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** `<type> <base64>`, without the comment. */
  publicKey: string;
  comment: string | null;
  blob: Buffer;
}

class Reader {
  private offset = 0;
  constructor(private readonly buffer: Buffer) {}
  bytes(): Buffer {
    if (this.offset + 4 > this.buffer.length) throw new SshKeyFormatError('the key data is truncated');
    const length = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    if (length > this.buffer.length - this.offset) throw new SshKeyFormatError('the key data is truncated');
    const out = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }
  string(): string {
    return this.bytes().toString('latin1');
  }
  end(): void {
    if (this.offset !== this.buffer.length) throw new SshKeyFormatError('the key data has trailing bytes');
  }
}

const curves: Record<string, { jwk: string; pointBytes: number; bits: number }> = {
  nistp256: { jwk: 'P-256', pointBytes: 65, bits: 256 },
  nistp384: { jwk: 'P-384', pointBytes: 97, bits: 384 },
  nistp521: { jwk: 'P-521', pointBytes: 133, bits: 521 },
};

function unsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return bytes.subarray(start);
}

function checkEcPoint(curve: string, point: Buffer): number {
  const spec = curves[curve];
  if (!spec) throw new SshKeyFormatError(`unsupported ECDSA curve ${curve}`);
  if (point.length !== spec.pointBytes || point[0] !== 4)
    throw new SshKeyFormatError('the ECDSA public point is malformed');
  const size = (spec.pointBytes - 1) / 2;
  try {
    createPublicKey({
      key: {
        kty: 'EC',
        crv: spec.jwk,
        x: point.subarray(1, 1 + size).toString('base64url'),
        y: point.subarray(1 + size).toString('base64url'),
      },
      format: 'jwk',
    });
  } catch {
    throw new SshKeyFormatError('the ECDSA public point is not on its curve');
  }
  return spec.bits;
}

function checkEd25519(publicKey: Buffer): void {
  if (publicKey.length !== 32) throw new SshKeyFormatError('an Ed25519 public key is 32 bytes');
  createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey.toString('base64url') }, format: 'jwk' });
}

/** Parses and checks one OpenSSH public key line (`<type> <base64> [comment]`), as in `~/.ssh/id_ed25519.pub`. */
export function parseSshPublicKey(line: string): ParsedSshKey {
  const trimmed = line.trim();
  if (/[\r\n]/.test(trimmed)) throw new SshKeyFormatError('give exactly one public key line');
  const match = /^(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s+(.*))?$/.exec(trimmed);
  if (!match) {
    throw new SshKeyFormatError(
      'expected "<type> <base64> [comment]", as in ~/.ssh/id_ed25519.pub (not a private key, not options)',
    );
  }
  const [, type, base64, comment] = match as unknown as [string, string, string, string | undefined];
  const blob = Buffer.from(base64, 'base64');
  if (blob.toString('base64').replace(/=+$/, '') !== base64.replace(/=+$/, '')) {
    throw new SshKeyFormatError('the key data is not valid base64');
  }
  const reader = new Reader(blob);
  const innerType = reader.string();
  if (innerType !== type) throw new SshKeyFormatError(`the key says it is ${type} but its data is ${innerType}`);
  let bits: number | null;
  switch (type) {
    case 'ssh-ed25519': {
      checkEd25519(reader.bytes());
      bits = 256;
      break;
    }
    case 'sk-ssh-ed25519@openssh.com': {
      checkEd25519(reader.bytes());
      reader.string();
      bits = 256;
      break;
    }
    case 'ssh-rsa': {
      const exponent = unsignedInteger(reader.bytes());
      const modulus = unsignedInteger(reader.bytes());
      bits = modulus.length * 8 - Math.clz32(modulus[0] ?? 0) + 24;
      if (bits < 2048) throw new SshKeyFormatError(`RSA keys must have at least 2048 bits; this one has ${bits}`);
      try {
        createPublicKey({
          key: { kty: 'RSA', n: modulus.toString('base64url'), e: exponent.toString('base64url') },
          format: 'jwk',
        });
      } catch {
        throw new SshKeyFormatError('the RSA key is malformed');
      }
      break;
    }
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521':
    case 'sk-ecdsa-sha2-nistp256@openssh.com': {
      const curve = reader.string();
      if (!type.includes(curve)) throw new SshKeyFormatError(`curve ${curve} does not match key type ${type}`);
      bits = checkEcPoint(curve, reader.bytes());
      if (type.startsWith('sk-')) reader.string();
      break;
    }
    case 'ssh-dss':
      throw new SshKeyFormatError('DSA keys are insecure and not accepted; use ssh-keygen -t ed25519');
    default:
      throw new SshKeyFormatError(`unsupported key type ${type}; use ed25519, ecdsa or rsa (>= 2048 bits)`);
  }
  reader.end();
  const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
  const cleanComment = comment?.trim() || null;
  return { algorithm: type, bits, fingerprint, publicKey: `${type} ${base64}`, comment: cleanComment, blob };
}
