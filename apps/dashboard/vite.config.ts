import { nodeConfigSchemas, routes } from '@runtools/spec';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';
import { z } from 'zod';

/**
 * `virtual:runtools-routes`: each REST route's method and path, read from the spec's route table at build time,
 * so the dashboard calls routes by id (as the SDK does) without shipping the zod schemas to the browser.
 */
function routeTable(): Plugin {
  const id = 'virtual:runtools-routes';
  return {
    name: 'runtools-routes',
    resolveId: (source) => (source === id ? `\0${id}` : undefined),
    load(source) {
      if (source !== `\0${id}`) return undefined;
      const table = Object.fromEntries(
        Object.entries(routes).map(([name, contract]) => [name, [contract.method, contract.path]]),
      );
      return `export const routeTable = ${JSON.stringify(table)};`;
    },
  };
}

/**
 * `virtual:runtools-node-schemas`: each workflow node type's config schema as JSON Schema, from the spec at build
 * time; the graph editor makes its node forms from them (components/schema-form.tsx). Loaded with the
 * editor's chunk, not the shell.
 */
function nodeSchemas(): Plugin {
  const id = 'virtual:runtools-node-schemas';
  return {
    name: 'runtools-node-schemas',
    resolveId: (source) => (source === id ? `\0${id}` : undefined),
    load(source) {
      if (source !== `\0${id}`) return undefined;
      const schemas = Object.fromEntries(
        Object.entries(nodeConfigSchemas).map(([type, schema]) => [
          type,
          z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }),
        ]),
      );
      return `export const nodeSchemas = ${JSON.stringify(schemas)};`;
    },
  };
}

export default defineConfig({
  plugins: [react(), routeTable(), nodeSchemas()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // The shell's budget is checked by the dashboard tests (250 KB gzipped); this only quiets Vite's own warning.
    chunkSizeWarningLimit: 900,
  },
  server: {
    proxy: { '/v1': { target: process.env.RUNTOOLS_API_URL ?? 'http://127.0.0.1:7400', ws: true } },
  },
});
