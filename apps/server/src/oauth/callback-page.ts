import type { CallbackPage } from './oauth-service.js';

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

/** The page a browser lands on at the end of an OAuth flow: what happened, and the error code if it failed. */
export function callbackHtml(page: CallbackPage): string {
  const code = page.code ? `<p class="code">Error code: <code>${escapeHtml(page.code)}</code></p>` : '';
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)} · RunTools</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2328}
h1{font-size:1.4rem}.ok{color:#1a7f37}.failed{color:#cf222e}code{background:#f6f8fa;padding:.1rem .3rem}</style>
</head>
<body>
<h1 class="${page.code ? 'failed' : 'ok'}" id="title">${escapeHtml(page.title)}</h1>
<p id="message">${escapeHtml(page.message)}</p>
${code}
</body>
</html>
`;
}
