// The baseline: a bare Hono app on @hono/node-server in the same process layout as the platform, answering
// GET /v1/secrets with a fixed body of the same shape and size as the platform's (argv[2] is that body).
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const body = JSON.parse(process.argv[2]);
const app = new Hono();
app.get('/v1/secrets', (context) => context.json(body));
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${info.port}` })}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
