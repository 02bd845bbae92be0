// The metric registry (GET /api/v1/definitions): what every derived number means, its formula,
// its direction and whether it is a headline number (stored per ended run, a runs-list column
// and a sweep-results column). The server is the one source; pages read labels and hovers here.
import { useQuery } from "@tanstack/react-query";

import { api, unwrap, type Schemas } from "./client";

export type Definition = Schemas["Definition"];

export const DEFINITIONS_KEY = ["definitions"] as const;

/** The registry; it changes only with the server's version, so it is fetched once per page load. */
export function useDefinitions() {
  return useQuery({
    queryKey: DEFINITIONS_KEY,
    staleTime: Number.POSITIVE_INFINITY,
    queryFn: async () => unwrap(await api.GET("/api/v1/definitions")),
  });
}

/** Hover text of a metric: what it measures, then how, then its direction. */
export function definitionHover(d: Definition): string {
  const better = d.higher_is_better ? "higher is better" : "lower is better";
  return `${d.label}: ${d.definition}\n${d.formula}\n(${better})`;
}

/** The headline metrics, in registry order. */
export function headlineDefinitions(definitions: readonly Definition[] | undefined): Definition[] {
  return (definitions ?? []).filter((d) => d.headline);
}
