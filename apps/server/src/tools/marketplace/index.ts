import { github } from './github.js';
import type { OfficialTool } from './official-tool.js';

/** The marketplace: every official tool, by name. */
export const officialTools: ReadonlyMap<string, OfficialTool> = new Map([github].map((tool) => [tool.name, tool]));

/** The variable an operator sets to point a tool at another API base URL (GitHub Enterprise, a proxy). */
export function toolBaseUrlVariable(name: string): string {
  return `RUNTOOLS_TOOL_${name.toUpperCase().replaceAll('-', '_')}_BASE_URL`;
}
