// s3rver in a process of its own (`node s3-server.mjs <dir> <bucket>`), printing its port: the server under
// test reaches it through s3fs, whose calls would otherwise wait on the very process they block.
import S3rver from 's3rver';

const [directory, bucket] = process.argv.slice(2);
const server = new S3rver({
  port: 0,
  address: '127.0.0.1',
  silent: true,
  directory,
  configureBuckets: [{ name: bucket }],
});
const { port } = await server.run();
process.stdout.write(`${port}\n`);
process.once('SIGTERM', async () => {
  await server.close();
  process.exit(0);
});
