const units: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** `512MB` → 512 000 000, `2GiB` → 2 147 483 648 (the spec's ByteSize has already checked the shape). */
export function parseByteSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(text.trim());
  const unit = units[match?.[2]?.toLowerCase() ?? ''];
  if (!match || unit === undefined) throw new Error(`not a size: ${text}`);
  return Math.round(Number(match[1]) * unit);
}
