// A consumer of "runwatch/worker": the same names and types as "runwatch" (checked by tsc).
import init, { RocketRideClient, type Delivered, type TaskSnapshot } from "runwatch/worker";

await init();
const client = new RocketRideClient({ url: "wss://engine.example:5565", auth: () => Promise.resolve("key") });
client.subscribe({ token: "*" }, ["TASK", "SUMMARY"], (events: Delivered[]) => {
  for (const ev of events) if (ev.type === "taskStatus") console.log(ev.status.completedCount);
});
const snapshot: TaskSnapshot = client.tasks().getSnapshot();
console.log(snapshot.version, client.stats().framesReceived);
client.close();
