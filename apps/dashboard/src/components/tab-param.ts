import { useNavigate, useRouterState } from '@tanstack/react-router';

/** The search parameter that holds a page's open tab (`?tab=files`). */
export const tabSearchParam = 'tab';

/**
 * A page's open tab, kept in the URL as `?tab=`: a reload, the back button and a shared link open the same tab.
 * A value that is not one of `tabs` (an old link, a tab this key may not see) falls back to the first tab. Choosing
 * a tab replaces the history entry rather than adding one, so Back leaves the page instead of walking its tabs.
 */
export function useTabParam<T extends string>(tabs: readonly { id: T }[], fallback: T): [T, (tab: T) => void] {
  const value: unknown = useRouterState({
    select: (state) => (state.location.search as Record<string, unknown>)[tabSearchParam],
  });
  const navigate = useNavigate();
  const tab = tabs.find((candidate) => candidate.id === value)?.id ?? tabs[0]?.id ?? fallback;
  const choose = (next: T) => {
    void navigate({
      to: '.',
      // The first tab is the page's default: no parameter for it, so the page's plain URL stays canonical.
      search: (previous: Record<string, unknown>) => ({
        ...previous,
        [tabSearchParam]: next === tabs[0]?.id ? undefined : next,
      }),
      replace: true,
    });
  };
  return [tab, choose];
}
