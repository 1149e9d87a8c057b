// Every entry point of the package, by its exports-map name (checked by tsc with both
// TypeScript 7 and 5.9, under each module resolution: types.test.mjs).
import init, { RocketRideClient } from "runwatch";
import workerInit, { RocketRideClient as WorkerClient } from "runwatch/worker";
import fleetInit, { FleetRlmClient } from "runwatch/fleet-rlm";
import { useRocketRideClient, useTasks } from "runwatch/react";
import { useFleetClient, useFleetRuns } from "runwatch/react/fleet-rlm";

await Promise.all([init(), workerInit(), fleetInit()]);
const clients: Array<{ close(): void }> = [
  new RocketRideClient({ url: "ws://127.0.0.1:5565", auth: "key" }),
  new WorkerClient({ url: "ws://127.0.0.1:5565", auth: "key" }),
  new FleetRlmClient({ url: "http://127.0.0.1:8000" }),
];
for (const client of clients) client.close();
export const hooks = [useRocketRideClient, useTasks, useFleetClient, useFleetRuns];
