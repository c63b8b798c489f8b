/**
 * The API reference page: plain HTML and a little script that renders /v1/openapi.json. Served by the
 * server itself, no CDN, so it works offline and on air-gapped installs.
 */
export function docsPage(version: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>RunTools API ${version}</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 960px; padding: 24px; color: #1b1f24; }
  h1 { margin-bottom: 0 } .tag { margin-top: 32px; border-bottom: 1px solid #d0d7de; }
  details { border: 1px solid #d0d7de; border-radius: 6px; margin: 8px 0; padding: 6px 12px; }
  summary { cursor: pointer; } code, pre { font-family: ui-monospace, monospace; font-size: 13px; }
  pre { background: #f6f8fa; padding: 8px; overflow: auto; border-radius: 4px; }
  .method { display: inline-block; min-width: 64px; font-weight: 700; }
  .GET { color: #0969da } .POST { color: #1a7f37 } .PATCH, .PUT { color: #9a6700 } .DELETE { color: #cf222e }
  .scopes { color: #57606a; font-size: 13px; }
</style>
</head>
<body>
<h1>RunTools API</h1>
<p>Version ${version}. Machine-readable: <a href="/v1/openapi.json">/v1/openapi.json</a>.</p>
<div id="intro"></div>
<div id="routes">Loading…</div>
<script>
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
fetch('/v1/openapi.json').then((r) => r.json()).then((doc) => {
  document.getElementById('intro').innerHTML = '<p>' + esc(doc.info.description) + '</p>';
  const byTag = {};
  for (const [path, ops] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(ops)) {
    (byTag[op.tags[0]] ??= []).push({ path, method: method.toUpperCase(), op });
  }
  let html = '';
  for (const [tag, list] of Object.entries(byTag)) {
    html += '<h2 class="tag">' + esc(tag) + '</h2>';
    for (const { path, method, op } of list) {
      const scopes = op['x-required-scopes'];
      html += '<details><summary><span class="method ' + method + '">' + method + '</span> <code>' + esc(path) +
        '</code> — ' + esc(op.summary) + '</summary>' +
        '<p class="scopes">' + (scopes ? 'Scopes: ' + (scopes.length ? scopes.map(esc).join(' or ') : 'any valid key') : 'No key needed') + '</p>' +
        (op.parameters ? '<h4>Parameters</h4><pre>' + esc(JSON.stringify(op.parameters, null, 2)) + '</pre>' : '') +
        (op.requestBody ? '<h4>Body</h4><pre>' + esc(JSON.stringify(op.requestBody.content['application/json'].schema, null, 2)) + '</pre>' : '') +
        '<h4>Responses</h4><pre>' + esc(JSON.stringify(Object.fromEntries(Object.entries(op.responses).map(([s, r]) => [s, r.description])), null, 2)) + '</pre>' +
        '</details>';
    }
  }
  html += '<h2 class="tag">Schemas</h2><pre>' + esc(JSON.stringify(doc.components.schemas, null, 2)) + '</pre>';
  document.getElementById('routes').innerHTML = html;
}).catch((error) => { document.getElementById('routes').textContent = 'Could not load the API document: ' + error; });
</script>
</body>
</html>`;
}
