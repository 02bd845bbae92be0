// The sweeps API's answers as the page reads them: aliases of the schemas generated from the
// backend's OpenAPI document (../../api/schema.d.ts, `npm run gen:api`).
import type { RunRead, Schemas } from "../../api/client";

export type RunStatusName = RunRead["status"];
export type SweepRead = Schemas["SweepRead"];
export type SweepPage = Schemas["SweepPage"];
export type SweepProgress = Schemas["SweepProgress"];
export type MetricDefinition = Schemas["Definition"];
export type SweepResults = Schemas["SweepResults"];
export type SweepRow = Schemas["ResultRow"];
export type ResultCell = Schemas["ResultCell"];
export type SweepAligned = Schemas["SweepAligned"];
export type AlignedBand = Schemas["AlignedBandRead"];
