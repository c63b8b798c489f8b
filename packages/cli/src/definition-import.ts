import * as nodeModule from 'node:module';
import { pathToFileURL } from 'node:url';

let hooked = false;

/**
 * Lets a definition file `import { defineAgent } from '@runtools/sdk'` without a node_modules of its own: the
 * specifier resolves to the SDK this CLI runs with (so its ValidationError is the one caught here).
 */
export function resolveSdkToOurs(): void {
  if (hooked) return;
  hooked = true;
  const registerHooks = (nodeModule as { registerHooks?: typeof nodeModule.registerHooks }).registerHooks;
  // Node < 22.15: no synchronous hooks; the files then need @runtools/sdk installed next to them.
  if (typeof registerHooks !== 'function') return;
  const sdk = import.meta.resolve('@runtools/sdk');
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier === '@runtools/sdk') return { url: sdk, shortCircuit: true };
      return nextResolve(specifier, context);
    },
  });
}

/** A definition file's default export (`undefined` when it has none); `.ts` files run with Node's type stripping. */
export async function importDefault(file: string): Promise<unknown> {
  resolveSdkToOurs();
  const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  return module.default;
}
