// `using` a client: checked by types.test.mjs only with a lib that has `Disposable`
// (esnext.disposable or esnext), as a user's would be.
import init, { RocketRideClient } from "runwatch";

await init();
{
  using client = new RocketRideClient({ url: "ws://127.0.0.1:5565", auth: "key" });
  client.subscribe({ token: "*" }, ["TASK"], () => {});
} // closed here, by client[Symbol.dispose]()

const disposable: Disposable = new RocketRideClient({ url: "ws://127.0.0.1:5565", auth: "key" });
disposable[Symbol.dispose]();
