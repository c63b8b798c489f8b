/**
 * How deep a JSON document nests. JSON.parse takes any depth, but what the server then does with a document
 * (JSON.stringify, a schema walking it, a recursive copy) can run out of stack thousands of levels down; every
 * JSON body is therefore bounded where it arrives (http/app.ts), and workflows bound the documents they keep.
 */

/** Deeper than any request body needs to be: a body nesting more is refused with 400. */
export const maxBodyNesting = 2000;

/** How deep `value` nests (a scalar 0, `[]` or `{}` 1), counted without recursion; stops once past `limit`. */
export function nestingOf(value: unknown, limit: number = maxBodyNesting): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (item === null || typeof item !== 'object') continue;
    const level = depth + 1;
    if (level > deepest) deepest = level;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(item) ? item : Object.values(item)) stack.push([child, level]);
  }
  return deepest;
}
