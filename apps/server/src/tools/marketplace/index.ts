import type { OAuthProviderId } from '@runtools/spec';
import { discord } from './discord.js';
import { github } from './github.js';
import { gmail } from './gmail.js';
import { googleCalendar } from './google-calendar.js';
import { googleSheets } from './google-sheets.js';
import { linkedin } from './linkedin.js';
import type { OfficialTool } from './official-tool.js';
import { outlook } from './outlook.js';
import { slack } from './slack.js';
import { telegram } from './telegram.js';
import { xTwitter } from './x-twitter.js';

/** The marketplace: every official tool, by name. */
export const officialTools: ReadonlyMap<string, OfficialTool> = new Map(
  [discord, github, gmail, googleCalendar, googleSheets, linkedin, outlook, slack, telegram, xTwitter].map((tool) => [
    tool.name,
    tool,
  ]),
);

/** The variable an operator sets to point a tool at another API base URL (GitHub Enterprise, a proxy). */
export function toolBaseUrlVariable(name: string): string {
  return `RUNTOOLS_TOOL_${name.toUpperCase().replaceAll('-', '_')}_BASE_URL`;
}

/** The scopes each OAuth provider's marketplace tools need, with the tools' names (what a connection asks for). */
export function oauthToolScopes(): Map<OAuthProviderId, { scopes: string[]; tools: string[] }> {
  const result = new Map<OAuthProviderId, { scopes: string[]; tools: string[] }>();
  for (const tool of officialTools.values()) {
    if (tool.auth.kind !== 'oauth') continue;
    const provider = tool.auth.provider as OAuthProviderId;
    const entry = result.get(provider) ?? { scopes: [], tools: [] };
    entry.scopes = [...new Set([...entry.scopes, ...tool.auth.scopes])];
    entry.tools.push(tool.name);
    result.set(provider, entry);
  }
  return result;
}
