// Bytes without Node's Buffer, so that the SDK runs in a browser (the dashboard uses it) as well as in Node.

type Base64Codec = {
  fromBase64?: (text: string) => Uint8Array;
  prototype: { toBase64?: () => string };
};
type NodeBuffer = {
  from(data: string, encoding: 'base64'): Uint8Array;
  from(data: Uint8Array): { toString(encoding: 'base64'): string };
};
const codec = Uint8Array as unknown as Base64Codec;
// Node's Buffer where there is one: it is faster than the atob/btoa fallback on large exec output.
const nodeBuffer = (globalThis as { Buffer?: NodeBuffer }).Buffer;
const encoder = new TextEncoder();

/** A string's UTF-8 bytes. */
export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

/** Bytes decoded as UTF-8 (invalid sequences become U+FFFD). */
export function utf8Text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** Standard base64 (with padding) of the bytes. */
export function toBase64(bytes: Uint8Array): string {
  if (codec.prototype.toBase64) return (bytes as unknown as { toBase64(): string }).toBase64();
  if (nodeBuffer) return nodeBuffer.from(bytes).toString('base64');
  let binary = '';
  for (let start = 0; start < bytes.length; start += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(start, start + 0x8000));
  return btoa(binary);
}

/** The bytes of standard base64 text. */
export function fromBase64(text: string): Uint8Array {
  if (codec.fromBase64) return codec.fromBase64(text);
  if (nodeBuffer) return nodeBuffer.from(text, 'base64');
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}
