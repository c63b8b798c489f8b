import { describe, expect, it } from 'vitest';
import { applyHunks, PatchError, parsePatch } from './apply-patch.js';

describe('apply_patch format', () => {
  it('parses adds, deletes, updates with a move, @@ anchors and end-of-file hunks', () => {
    const operations = parsePatch(
      [
        '*** Begin Patch',
        '*** Add File: docs/new.md',
        '+# New',
        '+',
        '+text',
        '*** Delete File: old.txt',
        '*** Update File: src/app.py',
        '*** Move to: src/main.py',
        '@@ def greet():',
        '-    return "hi"',
        '+    return "hello"',
        '*** End Patch',
      ].join('\n'),
    );
    expect(operations).toEqual([
      { kind: 'add', path: 'docs/new.md', content: '# New\n\ntext\n' },
      { kind: 'delete', path: 'old.txt' },
      {
        kind: 'update',
        path: 'src/app.py',
        moveTo: 'src/main.py',
        hunks: [
          {
            anchor: 'def greet():',
            endOfFile: false,
            lines: [
              { kind: '-', text: '    return "hi"' },
              { kind: '+', text: '    return "hello"' },
            ],
          },
        ],
      },
    ]);
  });

  it('applies hunks in order after their anchors, tolerating trailing whitespace, keeping the final newline', () => {
    const text = 'a\nb\nc\nb\nd\n';
    const [update] = parsePatch('*** Begin Patch\n*** Update File: f\n@@ c\n-b  \n+B\n*** End Patch');
    if (update?.kind !== 'update') throw new Error('expected an update');
    expect(applyHunks('f', text, update.hunks)).toBe('a\nb\nc\nB\nd\n');
    const [append] = parsePatch('*** Begin Patch\n*** Update File: f\n@@\n+e\n*** End of File\n*** End Patch');
    if (append?.kind !== 'update') throw new Error('expected an update');
    expect(applyHunks('f', text, append.hunks)).toBe('a\nb\nc\nb\nd\ne\n');
  });

  it('refuses a hunk whose lines are not in the file, and malformed patches, with what is wrong', () => {
    const [update] = parsePatch('*** Begin Patch\n*** Update File: f\n@@\n-zzz\n+y\n*** End Patch');
    if (update?.kind !== 'update') throw new Error('expected an update');
    expect(() => applyHunks('f', 'a\n', update.hunks)).toThrow(/hunk 1 does not apply.*\n-?zzz/s);
    expect(() => parsePatch('*** Update File: f\n*** End Patch')).toThrow(PatchError);
    expect(() => parsePatch('*** Begin Patch\n*** Add File: f\nnot plus\n*** End Patch')).toThrow(/starts with "\+"/);
    expect(() => parsePatch('*** Begin Patch\n*** Rename: f\n*** End Patch')).toThrow(/expected/);
    expect(() => parsePatch('*** Begin Patch\n*** End Patch')).toThrow(/changes nothing/);
  });
});
