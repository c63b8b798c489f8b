/**
 * The patch format of Codex's `apply_patch` tool:
 *
 *   *** Begin Patch
 *   *** Add File: path        then every line `+text`
 *   *** Delete File: path
 *   *** Update File: path     optionally `*** Move to: new/path`, then hunks:
 *   @@ [context line]         each hunk: ` ` context, `-` removed, `+` added lines
 *   *** End of File           (optional: the hunk ends the file)
 *   *** End Patch
 *
 * Parsing and applying are pure: `applyPatch` works on the files' current text and answers the new texts,
 * so that a hunk that does not apply fails the whole patch before anything is written.
 */

export class PatchError extends Error {}

export type PatchOperation =
  | { kind: 'add'; path: string; content: string }
  | { kind: 'delete'; path: string }
  | { kind: 'update'; path: string; moveTo?: string; hunks: Hunk[] };

interface Hunk {
  /** The `@@` line's text, a line to find before the hunk's own lines (empty: none). */
  anchor: string;
  lines: { kind: ' ' | '-' | '+'; text: string }[];
  endOfFile: boolean;
}

export function parsePatch(text: string): PatchOperation[] {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  while (lines.length > 0 && lines.at(-1)?.trim() === '') lines.pop();
  let index = lines.findIndex((line) => line.trim() !== '');
  if (lines[index]?.trim() !== '*** Begin Patch') throw new PatchError('a patch starts with "*** Begin Patch"');
  if (lines.at(-1)?.trim() !== '*** End Patch') throw new PatchError('a patch ends with "*** End Patch"');
  const end = lines.length - 1;
  index++;
  const operations: PatchOperation[] = [];
  const header = (line: string, prefix: string) =>
    line.startsWith(prefix) ? line.slice(prefix.length).trim() : undefined;
  while (index < end) {
    const line = lines[index] ?? '';
    const added = header(line, '*** Add File: ');
    const deleted = header(line, '*** Delete File: ');
    const updated = header(line, '*** Update File: ');
    if (added !== undefined) {
      const content: string[] = [];
      index++;
      while (index < end && !(lines[index] ?? '').startsWith('*** ')) {
        const body = lines[index] ?? '';
        if (!body.startsWith('+')) throw new PatchError(`line ${index + 1}: a line of an added file starts with "+"`);
        content.push(body.slice(1));
        index++;
      }
      operations.push({ kind: 'add', path: added, content: content.length ? `${content.join('\n')}\n` : '' });
    } else if (deleted !== undefined) {
      operations.push({ kind: 'delete', path: deleted });
      index++;
    } else if (updated !== undefined) {
      index++;
      const moveTo = header(lines[index] ?? '', '*** Move to: ');
      if (moveTo !== undefined) index++;
      const hunks: Hunk[] = [];
      let hunk: Hunk | undefined;
      while (index < end && !/^\*\*\* (Add|Delete|Update) File: /.test(lines[index] ?? '')) {
        const body = lines[index] ?? '';
        if (body.startsWith('@@')) {
          hunk = { anchor: body.slice(2).trim(), lines: [], endOfFile: false };
          hunks.push(hunk);
        } else if (body === '*** End of File') {
          if (!hunk) throw new PatchError(`line ${index + 1}: "*** End of File" outside a hunk`);
          hunk.endOfFile = true;
        } else {
          if (!hunk) {
            // A first hunk may leave out its "@@".
            hunk = { anchor: '', lines: [], endOfFile: false };
            hunks.push(hunk);
          }
          const kind = body[0] === undefined ? ' ' : body[0];
          if (kind !== ' ' && kind !== '-' && kind !== '+')
            throw new PatchError(`line ${index + 1}: a hunk line starts with " ", "-" or "+": ${JSON.stringify(body)}`);
          hunk.lines.push({ kind, text: body.slice(1) });
        }
        index++;
      }
      if (hunks.length === 0 && moveTo === undefined) throw new PatchError(`*** Update File: ${updated} has no hunks`);
      operations.push({ kind: 'update', path: updated, ...(moveTo !== undefined ? { moveTo } : {}), hunks });
    } else {
      throw new PatchError(`line ${index + 1}: expected "*** Add File:", "*** Delete File:" or "*** Update File:"`);
    }
  }
  if (operations.length === 0) throw new PatchError('the patch changes nothing');
  return operations;
}

/** Where `needle` (lines) occurs in `haystack` from `start`: exactly, then ignoring trailing, then all edge whitespace. */
function find(haystack: readonly string[], needle: readonly string[], start: number, atEnd: boolean): number {
  const normalizers = [(line: string) => line, (line: string) => line.trimEnd(), (line: string) => line.trim()];
  for (const normalize of normalizers) {
    const wanted = needle.map(normalize);
    const matches = (at: number) => wanted.every((line, offset) => normalize(haystack[at + offset] ?? '') === line);
    if (atEnd) {
      const at = haystack.length - needle.length;
      if (at >= start && matches(at)) return at;
      continue;
    }
    for (let at = start; at + needle.length <= haystack.length; at++) if (matches(at)) return at;
  }
  return -1;
}

/** The file's new text after the hunks, or a PatchError naming the hunk that does not apply. */
export function applyHunks(path: string, text: string, hunks: readonly Hunk[]): string {
  const endsWithNewline = text.endsWith('\n');
  const lines = text.split('\n');
  if (endsWithNewline) lines.pop();
  let position = 0;
  for (const [number, hunk] of hunks.entries()) {
    if (hunk.anchor) {
      const at = find(lines, [hunk.anchor], position, false);
      if (at < 0) throw new PatchError(`${path}: hunk ${number + 1}: the context "@@ ${hunk.anchor}" was not found`);
      position = at + 1;
    }
    const before = hunk.lines.filter((line) => line.kind !== '+').map((line) => line.text);
    const after = hunk.lines.filter((line) => line.kind !== '-').map((line) => line.text);
    const at =
      before.length === 0 ? (hunk.endOfFile ? lines.length : position) : find(lines, before, position, hunk.endOfFile);
    if (at < 0) {
      throw new PatchError(
        `${path}: hunk ${number + 1} does not apply: these lines were not found${position > 0 ? ` after line ${position}` : ''}:\n${before.join('\n')}`,
      );
    }
    lines.splice(at, before.length, ...after);
    position = at + after.length;
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}${endsWithNewline || text === '' ? '\n' : ''}`;
}
