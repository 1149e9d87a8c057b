import type { TaskStoreSelect } from "runwatch/react";

/** The one task store every view of the dashboard reads (shared by the hooks). */
export const STORE: TaskStoreSelect = {
  scope: { token: "*" },
  store: { maxRuns: 100, maxOutputLines: 2000 },
};
