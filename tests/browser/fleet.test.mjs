// FleetRlmClient through the real path: the built npm package in headless Chromium, real
// browser WebSockets and fetch, and runwatch-sim's fleet-rlm side as the server (auth
// required, dev JWTs from its control API). Each test drives the page with `page.evaluate`
// and checks what the app's callbacks and stores saw — and that the access token appears
// in none of it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer, BLANK_PAGE } from "../support/server.mjs";
import { assertNoPageErrors, EXACT, rewriteFrames, throughBackForwardCache } from "../support/browser.mjs";
import { useBrowserFixture } from "../support/fixture.mjs";

let server, browser, sim, base, page, token;

// Auth required, so a bad token is refused; pace 0.3: a normal turn takes about a second.
useBrowserFixture({
  simArgs: ["--fleet-auth-required", "--fleet-pace", "0.3"],
  ready: (f) => ({ server, browser, sim } = f),
  openPage: () => page,
  pageClosed: () => { page = undefined; },
  bfcache: true,
});

/** The server root and a dev token of acme/ada, fetched once the simulator runs. */
async function ensureToken() {
  base = `http://127.0.0.1:${sim.port}`;
  token ??= (await sim.control("fleet/token", { tenant: "acme", user: "ada" })).access_token;
}

/**
 * A page with the package loaded and a FleetRlmClient recording everything into `window.fw`:
 * states, diagnostics, chat and execution frames, every turns/runs snapshot its listeners
 * saw, and how often the auth function was called. `auth: null` leaves auth out. `setup(arg)`
 * runs in the page first.
 */
async function openClient({ auth: given, ...options } = {}, setup = undefined, arg = undefined) {
  await ensureToken();
  const auth = given === undefined ? token : given;
  page = await browser.newPage();
  page.requests = [];
  page.on("request", (r) => page.requests.push({ url: r.url(), method: r.method(), headers: r.headers() }));
  page.sockets = [];
  page.on("websocket", (ws) => page.sockets.push(ws.url()));
  await page.goto(new URL(BLANK_PAGE, server.url).href);
  if (setup) await page.evaluate(setup, arg);
  await page.evaluate(
    async ({ url, auth, options }) => {
      const { default: init, FleetRlmClient } = await import("runwatch/fleet-rlm");
      await init();
      // `window.rw.client` is what the shared fixture closes after each test.
      const fw = (window.fw = window.rw = { states: [], diags: [], chat: [], exec: [], turnSnaps: [], runSnaps: [], authCalls: 0, errors: [] });
      const authOption = auth === null ? {} : { auth: () => { fw.authCalls += 1; return Promise.resolve(auth); } };
      fw.make = (extra = {}) => new FleetRlmClient({ url, ...authOption, reconnect: { minDelayMs: 100, maxDelayMs: 500 }, ...options, ...extra });
      fw.client = fw.make();
      fw.client.onState((s) => fw.states.push(s));
      fw.client.onDiagnostic((d) => fw.diags.push(d));
      if (fw.client.chatState !== undefined) {
        fw.client.onChat((frames) => fw.chat.push(...frames));
        fw.client.turns.subscribe(() => fw.turnSnaps.push(fw.client.turns.getSnapshot()));
      }
      if (fw.client.eventsState !== undefined) {
        fw.client.onExecution((frames) => fw.exec.push(...frames));
        fw.client.runs.subscribe(() => fw.runSnaps.push(fw.client.runs.getSnapshot()));
      }
      fw.turn = () => fw.client.turns.getSnapshot().turns.at(-1);
      fw.run = () => fw.client.runs.getSnapshot().runs.at(-1);
      fw.attempt = async (f) => {
        try { return { ok: await f() }; } catch (e) { const err = { ...e, name: e.name, message: e.message }; fw.errors.push(err); return { err }; }
      };
    },
    { url: base, auth, options },
  );
  return page;
}

const waitLive = (p) => p.waitForFunction(() => window.fw.client.chatState === "live" && window.fw.client.eventsState === "live");
const waitTurnEnded = (p) => p.waitForFunction(() => !["sent", "running"].includes(window.fw.turn()?.state));

/** Everything the SDK handed the page, as text: none of it may contain the token. */
async function assertTokenNowhere(p) {
  const seen = await p.evaluate(() => JSON.stringify({
    states: window.fw.states, diags: window.fw.diags, errors: window.fw.errors, stats: window.fw.client.stats(),
  }));
  const consoleText = p.consoleMessages.map((m) => m.text).join("\n");
  for (const piece of [token, ...token.split(".").filter((s) => s.length > 8)]) {
    assert.ok(!seen.includes(piece), "the token appears in a state change, diagnostic, error or the stats");
    assert.ok(!consoleText.includes(piece), "the token appears in a console message");
  }
}

/** The simulator's row of the events socket of `sessionId`. */
async function eventsConn(sessionId) {
  const conns = await sim.control("fleet/connections");
  const events = conns.find((c) => c.role === "events" && c.session_id === sessionId);
  assert.ok(events, `the events socket is listed: ${JSON.stringify(conns)}`);
  return events;
}

/** Step indices of a tree, depth first, and whether every sibling list is in index order. */
function walk(nodes, out = { order: [], sorted: true }) {
  const idx = nodes.map((n) => n.index);
  if (idx.some((v, i) => i > 0 && v < idx[i - 1])) out.sorted = false;
  for (const n of nodes) {
    out.order.push(n.index);
    walk(n.children, out);
  }
  return out;
}

test("a full turn with the events socket open: tokens streamed, final, the step tree in index order although steps arrive out of order", async () => {
  const p = await openClient();
  await waitLive(p);
  const states = await p.evaluate(() => window.fw.states.map((s) => `${s.socket}:${s.newState}`));
  for (const socket of ["chat", "events"]) {
    assert.deepEqual(states.filter((s) => s.startsWith(socket)), [`${socket}:connecting`, `${socket}:authenticating`, `${socket}:subscribing`, `${socket}:live`]);
  }
  const turnId = await p.evaluate(() => window.fw.client.send("list the workspace files #long=40"));
  assert.equal(turnId, 1);
  await waitTurnEnded(p);
  await p.waitForFunction(() => window.fw.run()?.status !== "running");
  const r = await p.evaluate(() => ({
    turn: window.fw.turn(), run: window.fw.run(), chat: window.fw.chat, exec: window.fw.exec,
    turnSnaps: window.fw.turnSnaps, runSnaps: window.fw.runSnaps, sessionId: window.fw.client.sessionId,
    frozen: Object.isFrozen(window.fw.client.turns.getSnapshot()) && Object.isFrozen(window.fw.turn()),
    same: window.fw.client.turns.getSnapshot() === window.fw.client.turns.getSnapshot(),
  }));
  // The chat stream: tokens, then final; the turn assembled from them.
  const kinds = r.chat.filter((f) => f.type === "event").map((f) => f.kind);
  assert.ok(kinds.filter((k) => k === "assistant_token").length >= 10, `tokens streamed: ${kinds.join(",")}`);
  assert.equal(kinds.at(-1), "final");
  assert.equal(r.turn.state, "completed");
  assert.equal(r.turn.turnId, 1);
  assert.equal(r.turn.sessionId, r.sessionId);
  const final = r.chat.find((f) => f.kind === "final");
  assert.equal(r.turn.answer, final.text);
  assert.ok(r.turn.tools.length >= 1 && r.turn.tools.every((t) => typeof t.name === "string"));
  // The store's listeners saw the answer grow token by token (several snapshots, growing).
  const answers = r.turnSnaps.map((s) => s.turns.at(-1)?.answer.length ?? 0);
  assert.ok(new Set(answers).size >= 3, `the answer grew over several snapshots: ${answers}`);
  assert.ok(r.frozen && r.same, "snapshots are frozen and stable");
  // The events socket: the run, its steps out of order on the wire, in order in the tree.
  assert.equal(r.run.status, "completed");
  assert.equal(r.run.sessionId, r.sessionId);
  assert.ok(r.run.sawStart);
  assert.equal(r.run.possiblyIncomplete, false);
  assert.equal(r.exec[0].type, "execution_started");
  assert.equal(r.exec.at(-1).type, "execution_completed");
  const arrived = r.exec.filter((f) => f.type === "execution_step").map((f) => Number(f.step.id.split(":s").at(-1)));
  assert.ok(arrived.some((v, i) => i > 0 && v < arrived[i - 1]), `steps arrived out of order: ${arrived}`);
  const { order, sorted } = walk(r.run.tree);
  assert.ok(sorted, "siblings are in index order");
  assert.equal(new Set(order).size, r.run.steps, "every step appears once in the tree");
  assert.equal(r.run.missingCount, 0);
  assert.ok(r.run.tree.some((n) => n.children.length > 0), "the tree has nested steps (tool result under its call)");
  const counts = r.runSnaps.map((s) => s.runs.at(-1)?.steps ?? 0);
  assert.ok(new Set(counts).size >= 3 && counts.every((c, i) => i === 0 || c >= counts[i - 1]), `the tree grew: ${counts}`);
  const diags = await p.evaluate(() => window.fw.diags.map((d) => `${d.socket}:${d.kind}`));
  assert.deepEqual(diags, [], "no diagnostics on a clean turn");
  await assertTokenNowhere(p);
  assertNoPageErrors(p);
});

test("numbers and key order in steps and answers arrive exactly as JSON.parse reads them", async () => {
  // Every frame's float `timestamp` (a step's, epoch seconds) becomes EXACT, and the final
  // answer's untyped `trajectory` gains a probe holding it; both used to be read by
  // serde_json's fast parse, one unit in the last place off. The probe's keys are out of
  // alphabetical order: untyped objects came out sorted (a BTreeMap) before.
  const edits = [['"timestamp":[0-9][-0-9.eE+]*', `"timestamp":${EXACT}`], ['"trajectory":\\{', `"trajectory":{"probe":[${EXACT},{"deep":${EXACT},"zeta":1,"alpha":2}],`]];
  const p = await openClient({}, rewriteFrames, { marker: '"', edits });
  await waitLive(p);
  await p.evaluate(() => window.fw.client.send("list the workspace files"));
  await waitTurnEnded(p);
  await p.waitForFunction(() => window.fw.run()?.status !== "running");
  const r = await p.evaluate(() => ({
    stamps: window.fw.exec.filter((f) => f.type === "execution_step").map((f) => f.step.timestamp),
    probe: window.fw.chat.find((f) => f.kind === "final")?.payload?.trajectory?.probe,
    probeKeys: Object.keys(window.fw.chat.find((f) => f.kind === "final")?.payload?.trajectory?.probe?.[1] ?? {}),
  }));
  assert.ok(r.stamps.length > 0, "the run had steps");
  assert.deepEqual(r.stamps, r.stamps.map(() => Number(EXACT)));
  assert.deepEqual(r.probe, [Number(EXACT), { deep: Number(EXACT), zeta: 1, alpha: 2 }]);
  assert.deepEqual(r.probeKeys, ["deep", "zeta", "alpha"], "keys in the wire's order");
  assertNoPageErrors(p);
});

test("an error turn ends the turn with the typed error; the socket stays open for the next message", async () => {
  const p = await openClient();
  await waitLive(p);
  await p.evaluate(() => window.fw.client.send("break please #error #code=llm_rate_limited"));
  await waitTurnEnded(p);
  await p.waitForFunction(() => window.fw.run()?.status !== "running");
  const r = await p.evaluate(() => ({ turn: window.fw.turn(), run: window.fw.run(), chat: window.fw.client.chatState }));
  assert.equal(r.turn.state, "error");
  assert.equal(r.turn.error.code, "llm_rate_limited");
  assert.equal(r.turn.error.class, "stream");
  assert.equal(r.run.status, "error");
  assert.equal(r.chat, "live");
  const second = await p.evaluate(() => window.fw.client.send("and now a normal one"));
  assert.equal(second, 2);
  await waitTurnEnded(p);
  assert.equal(await p.evaluate(() => window.fw.turn().state), "completed");
  await assertTokenNowhere(p);
  assertNoPageErrors(p);
});

test("send() refuses what the server would refuse, and a second message while a turn runs", async () => {
  const p = await openClient();
  const early = await p.evaluate(async () => {
    const fresh = window.fw.make();
    const result = await window.fw.attempt(() => fresh.send("too early"));
    fresh.close();
    return result;
  });
  assert.equal(early.err?.code, "notConnected", "messages are never queued");
  await waitLive(p);
  const r = await p.evaluate(async () => {
    const { client, attempt } = window.fw;
    const blank = await attempt(() => client.send("   "));
    const other = await attempt(() => client.send({ content: "hi", sessionId: "someone-else" }));
    const cmd = await attempt(() => client.command(" "));
    const hitl = await attempt(() => client.resolveHitl("", "x"));
    client.send({ content: "a long one #long=200", trace: false });
    const busy = await attempt(() => client.send("another"));
    return { blank, other, cmd, hitl, busy, cancelled: client.cancel() };
  });
  assert.equal(r.blank.err.name, "RunwatchError");
  assert.equal(r.blank.err.code, "invalidMessage");
  assert.equal(r.other.err.code, "invalidMessage");
  assert.equal(r.cmd.err.code, "invalidMessage");
  assert.equal(r.hitl.err.code, "invalidMessage");
  assert.equal(r.busy.err.code, "turnInProgress");
  assert.equal(r.cancelled, true);
  await waitTurnEnded(p);
  assert.equal(await p.evaluate(() => window.fw.client.cancel()), false, "nothing to cancel");
  assertNoPageErrors(p);
});

test("cancel() ends the running turn as cancelled, on both sockets", async () => {
  const p = await openClient();
  await waitLive(p);
  await p.evaluate(() => window.fw.client.send("stream a lot #long=400"));
  await p.waitForFunction(() => window.fw.turn()?.answer.length > 20);
  assert.equal(await p.evaluate(() => window.fw.client.cancel()), true);
  await waitTurnEnded(p);
  await p.waitForFunction(() => window.fw.run()?.status !== "running");
  const r = await p.evaluate(() => ({ turn: window.fw.turn(), run: window.fw.run() }));
  assert.equal(r.turn.state, "cancelled");
  assert.equal(r.turn.cancelRequested, true);
  assert.equal(r.run.status, "cancelled");
  assertNoPageErrors(p);
});

test("a question is answered with resolveHitl: typed result, the turn's prompt resolved, the run completes", async () => {
  const p = await openClient();
  await waitLive(p);
  await p.evaluate(() => window.fw.client.send("ask me something #hitl_wait"));
  await p.waitForFunction(() => window.fw.turn()?.hitl.length > 0);
  const prompt = await p.evaluate(() => window.fw.turn().hitl[0]);
  assert.ok(prompt.messageId && prompt.options.length > 0, JSON.stringify(prompt));
  const result = await p.evaluate(({ messageId, label }) => window.fw.client.resolveHitl(messageId, label), { messageId: prompt.messageId, label: prompt.options[0] });
  assert.equal(result.status, "ok");
  assert.equal(result.messageId, prompt.messageId);
  assert.equal(result.resolution, prompt.options[0]);
  await waitTurnEnded(p);
  const turn = await p.evaluate(() => window.fw.turn());
  assert.equal(turn.hitl[0].resolution, prompt.options[0]);
  assert.equal(turn.state, "completed");
  const resolved = await p.evaluate(() => window.fw.chat.filter((f) => f.kind === "hitl_resolved").length);
  assert.equal(resolved, 1);
  // A tool command answers its result; an unknown id is still accepted by 0.5.0's resolve_hitl.
  const listed = await p.evaluate(() => window.fw.client.command("list_files", { path: "." }));
  assert.equal(listed.status, "ok");
  assertNoPageErrors(p);
});

test("a credential function that fails is reported (credentialError) and asked again on the next attempt", async () => {
  const p = await openClient({ chat: false, events: false });
  const r = await p.evaluate(async ({ base, token }) => {
    const { FleetRlmClient } = await import("runwatch/fleet-rlm");
    let calls = 0;
    const diags = [];
    const auth = () => {
      calls += 1;
      if (calls === 1) throw new Error("token service down");
      if (calls === 2) return Promise.resolve("");
      return Promise.resolve(token);
    };
    const client = new FleetRlmClient({ url: base, auth, chat: false, reconnect: { minDelayMs: 50, maxDelayMs: 100 } });
    client.onDiagnostic((d) => diags.push(d));
    await new Promise((resolve) => client.onState((s) => { if (s.newState === "live") resolve(); }));
    client.close();
    return { calls, diags };
  }, { base, token });
  assert.equal(r.calls, 3);
  assert.deepEqual(r.diags.map((d) => `${d.socket}:${d.kind}`), ["events:credentialError", "events:credentialError"]);
  assert.match(r.diags[0].message, /token service down/);
  assert.match(r.diags[1].message, /empty access token/);
  assertNoPageErrors(p);
});

test("a page put in the back/forward cache closes both sockets cleanly and has them live again as soon as it is shown", async () => {
  // Ten minutes of backoff: only the page being shown brings the sockets back within the waits.
  const p = await openClient({ reconnect: { minDelayMs: 600_000, maxDelayMs: 600_000 } });
  await waitLive(p);
  // Listeners added and removed, as components mounting and unmounting do: nothing of them
  // may be left for a finalizer, which a garbage collection while the page is cached would
  // run there (Chromium then reloads the page on Back instead of restoring it).
  await p.evaluate(() => {
    const c = window.fw.client;
    for (let i = 0; i < 20; i++) {
      const offs = [c.onState(() => {}), c.onDiagnostic(() => {}), c.onChat(() => {}), c.onExecution(() => {}), c.turns.subscribe(() => {}), c.runs.subscribe(() => {})];
      for (const off of offs) { off(); off(); }
    }
  });
  const cdp = await p.context().newCDPSession(p);
  await throughBackForwardCache(p, () => cdp.send("HeapProfiler.collectGarbage"));
  await cdp.detach();
  await p.waitForFunction(() => {
    const states = window.fw.states;
    const hidden = states.findIndex((s) => s.newState === "backoff");
    return hidden >= 0 && ["chat", "events"].every((socket) => states.slice(hidden).some((s) => s.socket === socket && s.newState === "live"));
  });
  const hidden = await p.evaluate(() => window.fw.states.filter((s) => s.newState === "backoff").map((s) => `${s.socket}:${s.reason?.kind}`));
  assert.deepEqual(hidden.sort(), ["chat:pageHidden", "events:pageHidden"]);
  await assertTokenNowhere(p);
  assertNoPageErrors(p);
});

test("a refused token stops both sockets in authFailed with the typed server error, without retrying", async () => {
  await ensureToken();
  const bad = `${token.split(".").slice(0, 2).join(".")}.c2lnbmF0dXJlLWZvcmdlZA`;
  const p = await openClient({ auth: bad });
  await p.waitForFunction(() => window.fw.client.chatState === "authFailed" && window.fw.client.eventsState === "authFailed");
  await new Promise((r) => setTimeout(r, 1000)); // long enough for several retries at 100 ms
  const r = await p.evaluate(() => ({ states: window.fw.states, calls: window.fw.authCalls, chat: window.fw.chat }));
  assert.equal(r.calls, 2, "one attempt per socket: the credential function is not called again");
  for (const socket of ["chat", "events"]) {
    const last = r.states.filter((s) => s.socket === socket).at(-1);
    assert.equal(last.newState, "authFailed");
    assert.equal(last.serverError?.code, "auth_failed");
    assert.equal(last.serverError?.class, "auth");
    assert.equal(typeof last.message, "string");
  }
  assert.equal(r.chat.find((f) => f.type === "error")?.code, "auth_failed");
  const afterwards = await p.evaluate(() => window.fw.attempt(() => window.fw.client.send("hello")));
  assert.equal(afterwards.err.code, "notConnected");
  // Without any credential the server refuses too.
  const forged = await p.evaluate(() => JSON.stringify(window.fw.states));
  assert.ok(!forged.includes("c2lnbmF0dXJlLWZvcmdlZA"), "the refused token is not echoed");
  assertNoPageErrors(p);
});

test("the events socket dropped mid-run reconnects to the same session and reports what may be lost", async () => {
  const p = await openClient();
  await waitLive(p);
  const sessionId = await p.evaluate(() => window.fw.client.sessionId);
  await p.evaluate(() => window.fw.client.send("a long answer #long=600"));
  await p.waitForFunction(() => window.fw.run()?.steps >= 2 && window.fw.turn()?.answer.length > 10);
  const events = await eventsConn(sessionId);
  await sim.control("faults", { kind: "drop_all", conn: events.id });
  await p.waitForFunction(() => window.fw.diags.some((d) => d.kind === "resync" && d.socket === "events"));
  await waitTurnEnded(p);
  await p.waitForFunction(() => window.fw.run()?.status !== "running");
  const r = await p.evaluate(() => ({
    states: window.fw.states.filter((s) => s.socket === "events").map((s) => s.newState),
    resync: window.fw.diags.find((d) => d.kind === "resync"),
    run: window.fw.run(), turn: window.fw.turn(), chatStates: window.fw.states.filter((s) => s.socket === "chat").length,
    authCalls: window.fw.authCalls,
  }));
  assert.equal(r.authCalls, 3, "the credential function is called for every attempt (2 sockets + 1 reconnect)");
  assert.deepEqual(r.states.slice(-4), ["connecting", "authenticating", "subscribing", "live"]);
  assert.ok(r.states.includes("backoff"));
  assert.equal(r.resync.socket, "events");
  assert.deepEqual(r.resync.resubscribed, [`session_id=${sessionId}`]);
  assert.match(r.resync.unreplayable[0].message, /keeps no replay/);
  assert.equal(r.run.possiblyIncomplete, true, "the run going at the loss is marked");
  assert.equal(r.run.status, "completed", "its completion arrived on the new socket");
  assert.equal(r.turn.state, "completed", "the chat socket was not touched");
  assert.equal(r.chatStates, 4, "the chat socket stayed live");
  await assertTokenNowhere(p);
  assertNoPageErrors(p);
});

test("the chat socket dropped mid-turn: the turn ends interrupted, the message is not re-sent, the run ends interrupted", async () => {
  const p = await openClient();
  await waitLive(p);
  await p.evaluate(() => window.fw.client.send("a long answer #long=600"));
  await p.waitForFunction(() => window.fw.turn()?.answer.length > 10);
  const chat = (await sim.control("fleet/connections")).find((c) => c.role === "chat");
  await sim.control("faults", { kind: "drop_all", conn: chat.id });
  await waitTurnEnded(p);
  await p.waitForFunction(() => window.fw.client.chatState === "live" && window.fw.run()?.status !== "running");
  await p.waitForFunction(() => window.fw.diags.some((d) => d.kind === "resync" && d.socket === "chat"));
  const r = await p.evaluate(() => ({
    turn: window.fw.turn(), turns: window.fw.client.turns.getSnapshot().turns.length, run: window.fw.run(),
    resync: window.fw.diags.find((d) => d.kind === "resync" && d.socket === "chat"),
    lost: window.fw.states.find((s) => s.socket === "chat" && s.newState === "backoff"),
  }));
  assert.equal(r.turn.state, "interrupted");
  assert.equal(r.turns, 1, "no new turn was started on the new socket");
  assert.equal(r.run.status, "interrupted", "execution_completed with null step and summary");
  assert.match(r.resync.unreplayable[0].message, /not re-sent/);
  assert.equal(r.lost.reason.kind, "closed");
  const turnsInSim = await sim.control("fleet/turns");
  assert.equal(turnsInSim.length, 0, "nothing runs on the server");
  // The next message starts a fresh turn on the new socket.
  assert.equal(await p.evaluate(() => window.fw.client.send("again")), 2);
  await waitTurnEnded(p);
  await assertTokenNowhere(p);
  assertNoPageErrors(p);
});

test("a chat frame the server sends twice reaches the app once and is counted as a duplicate", async () => {
  const p = await openClient();
  await waitLive(p);
  const chat = (await sim.control("fleet/connections")).find((c) => c.role === "chat");
  await sim.control("faults", { kind: "duplicate", rate: 1, conn: chat.id, event: "event:assistant_token" });
  await p.evaluate(() => window.fw.client.send("tokens twice #long=40"));
  await waitTurnEnded(p);
  await sim.control("faults", undefined, { method: "DELETE" });
  const r = await p.evaluate(() => {
    const tokens = window.fw.chat.filter((f) => f.kind === "assistant_token");
    return { tokens: tokens.length, ids: new Set(tokens.map((f) => f.eventId)).size, stats: window.fw.client.stats().chat, turn: window.fw.turn() };
  });
  assert.ok(r.tokens > 10, `tokens streamed: ${r.tokens}`);
  assert.equal(r.ids, r.tokens, "each token frame reached the app once");
  assert.equal(r.stats.duplicates, r.tokens, "every copy was dropped and counted");
  assert.equal(r.turn.state, "completed");
  assertNoPageErrors(p);
});

test("a turn runs and the events socket hears nothing: a stalled diagnostic says what to check", async () => {
  const p = await openClient({ stallAfterMs: 400 });
  await waitLive(p);
  const sessionId = await p.evaluate(() => window.fw.client.sessionId);
  const events = await eventsConn(sessionId);
  // The events socket goes silent (a buffering proxy, as far as the client can tell).
  await sim.control("faults", { kind: "half_open", conn: events.id, seconds: 3 });
  await p.evaluate(() => window.fw.client.send("is anyone listening"));
  await p.waitForFunction(() => window.fw.diags.some((d) => d.kind === "stalled"));
  const stalled = await p.evaluate(() => window.fw.diags.find((d) => d.kind === "stalled"));
  assert.equal(stalled.socket, "events");
  assert.equal(stalled.silentMs, 400);
  assert.match(stalled.message, /reverse proxy/);
  await waitTurnEnded(p);
  await assertTokenNowhere(p);
  assertNoPageErrors(p);
});

test("the HTTP probes: typed results, typed errors, the token in the Authorization header only", async () => {
  const p = await openClient({ chat: true });
  await waitLive(p);
  await p.evaluate(() => window.fw.client.send("for feedback"));
  await waitTurnEnded(p);
  const r = await p.evaluate(async () => {
    const { client, attempt } = window.fw;
    const trace = window.fw.turn().finalPayload?.mlflowTraceId;
    return {
      health: await client.health(),
      ready: await client.ready(),
      lm: await client.testLm(),
      daytona: await client.testDaytona(),
      status: await client.runtimeStatus(),
      me: await client.me(),
      trace,
      feedback: await client.traceFeedback({ traceId: trace, isCorrect: true, comment: "good" }),
      unknown: await attempt(() => client.traceFeedback({ traceId: "no-such-trace", isCorrect: false })),
      noId: await attempt(() => client.traceFeedback({ isCorrect: false })),
    };
  });
  assert.equal(r.health.ok, true);
  assert.equal(typeof r.health.version, "string");
  assert.equal(typeof r.ready.ready, "boolean");
  assert.equal(r.lm.kind, "lm");
  assert.equal(typeof r.lm.ok, "boolean");
  assert.equal(r.daytona.kind, "daytona");
  assert.equal(typeof r.status.llm.modelSet, "boolean");
  assert.equal(typeof r.status.tests, "object");
  assert.equal(r.me.tenantId, "acme");
  assert.equal(r.me.userId, "ada");
  assert.ok(r.trace, "the final payload carries the trace id");
  assert.equal(r.feedback.ok, true);
  assert.equal(r.feedback.feedbackLogged, true);
  assert.equal(r.unknown.err.name, "RunwatchHttpError");
  assert.equal(r.unknown.err.kind, "notFound");
  assert.equal(r.noId.err.name, "RunwatchError");
  assert.equal(r.noId.err.code, "invalidMessage");
  // The token goes in the Authorization header of authenticated calls, never a URL; the
  // sockets carry it as access_token (browsers cannot set WebSocket headers).
  const calls = p.requests.filter((q) => q.url.startsWith(base));
  const status = calls.find((q) => q.url.endsWith("/api/v1/runtime/status") && q.method === "GET");
  assert.equal(status.headers.authorization, `Bearer ${token}`);
  assert.equal(calls.find((q) => q.url.endsWith("/health")).headers.authorization, undefined, "health is called without auth");
  assert.ok(calls.every((q) => !q.url.includes(token)), "no HTTP URL carries the token");
  assert.ok(p.sockets.length === 2 && p.sockets.every((u) => u.endsWith(`access_token=${token}`)));
  const logged = await sim.control("fleet/feedback");
  assert.ok(logged.some((f) => f.trace_id === r.trace && f.is_correct === true));
  await assertTokenNowhere(p);
  // Chromium itself logs every non-2xx fetch as a console error; the SDK logs nothing.
  assertNoPageErrors(p, { allowConsole: /^Failed to load resource: the server responded with a status of 404/ });
});

test("probes without a credential are refused with a typed 401; an unreachable server is a typed network error", async () => {
  const closed = await startServer();
  const port = closed.port;
  await closed.close(); // a port nothing listens on
  const p = await openClient({ auth: null, chat: false, events: false });
  const r = await p.evaluate(async (port) => {
    const { client, attempt } = window.fw;
    const { FleetRlmClient } = await import("runwatch/fleet-rlm");
    const gone = new FleetRlmClient({ url: `http://127.0.0.1:${port}`, chat: false, events: false, httpTimeoutMs: 5000 });
    const out = {
      health: await client.health(),
      status: await attempt(() => client.runtimeStatus()),
      network: await attempt(() => gone.health()),
      send: await attempt(() => client.send("x")),
      turns: client.turns === undefined && client.runs === undefined,
    };
    gone.close();
    return out;
  }, port);
  assert.equal(r.health.ok, true, "health needs no auth");
  assert.equal(r.status.err.kind, "unauthorized");
  assert.equal(r.status.err.status, 401);
  assert.equal(r.network.err.kind, "network");
  assert.equal(r.send.err.code, "unavailable");
  assert.ok(r.turns);
  assertNoPageErrors(p, { allowConsole: /^Failed to load resource: (net::ERR_CONNECTION_REFUSED|the server responded with a status of 401)/ });
});

test("options are checked: unknown names, insecure remote URLs, a URL with a query, a bad auth", async () => {
  const p = await openClient({ chat: false, events: false });
  const r = await p.evaluate(async () => {
    const { FleetRlmClient } = await import("runwatch/fleet-rlm");
    const attempt = (options) => {
      try { new FleetRlmClient(options).close(); return null; } catch (e) { return { name: e.name, code: e.code, message: e.message }; }
    };
    return {
      typo: attempt({ url: "http://127.0.0.1:1", sesionId: "x" }),
      insecure: attempt({ url: "ws://fleet.example.com", auth: "t" }),
      insecureDebug: attempt({ url: "http://fleet.example.com", debugIdentity: { tenantId: "t", userId: "u" } }),
      allowed: attempt({ url: "http://fleet.example.com", auth: "t", allowInsecure: true, chat: false, events: false }),
      query: attempt({ url: "https://fleet.example.com/?access_token=abc" }),
      both: attempt({ url: "https://fleet.example.com", auth: "t", debugIdentity: { tenantId: "t", userId: "u" } }),
      badAuth: attempt({ url: "https://fleet.example.com", auth: 42 }),
      blankSession: attempt({ url: "https://fleet.example.com", sessionId: " " }),
      identityTypo: attempt({ url: "https://fleet.example.com", debugIdentity: { tenant: "t", userId: "u" } }),
    };
  });
  assert.equal(r.typo.code, "invalidOptions");
  assert.match(r.typo.message, /sesionId/);
  assert.equal(r.insecure.code, "invalidUrl");
  assert.equal(r.insecureDebug.code, "invalidUrl");
  assert.equal(r.allowed, null);
  assert.equal(r.query.code, "invalidUrl");
  assert.ok(!r.query.message.includes("abc"));
  assert.equal(r.both.code, "invalidAuth");
  assert.equal(r.badAuth.code, "invalidAuth");
  assert.equal(r.blankSession.code, "invalidOptions");
  assert.equal(r.identityTypo.code, "invalidOptions");
  assert.ok(Object.values(r).every((e) => e === null || e.name === "RunwatchError"));
  assertNoPageErrors(p);
});

test("option and argument values of the wrong type are refused with their name; unknown keys are refused; command args go as JSON.stringify makes them", async () => {
  const p = await openClient();
  await waitLive(p);
  const r = await p.evaluate(async () => {
    const { FleetRlmClient } = await import("runwatch/fleet-rlm");
    const caught = (f) => {
      try { f(); return "ok"; } catch (e) { return `${e.code}: ${e.message}`; }
    };
    const make = (extra) => caught(() => new FleetRlmClient({ url: "http://127.0.0.1:1", auth: "secret-token", chat: false, events: false, ...extra }).close());
    const { client, attempt } = window.fw;
    const text = (result) => (result.err ? `${result.err.code}: ${result.err.message}` : "ok");
    const options = [
      make({ maxSteps: 2.5 }),
      make({ chat: "no" }),
      make({ batch: "fast" }),
      make({ reconnect: { maxAttempts: "3" } }),
      make({ reconnect: { maxAttempt: 3 } }),
      make({ auth: undefined, debugIdentity: { tenantId: "t", userId: 7 } }),
      make({ auth: undefined, debugIdentity: { tenantId: "t" } }),
      make({ sessionId: null, batch: "frame", reconnect: { minDelayMs: 10 }, maxRuns: 3 }),
      make({ stallAfterMs: 0 }),
      make({ commandTimeoutMs: 0 }),
      make({ maxFrameBytes: 0 }),
      make({ auth: "  " }),
      make({ maxRuns: 0 }),
      make({ maxSteps: 0 }),
    ];
    const messages = [
      text(await attempt(() => client.send({ content: "hi", trce: false }))),
      text(await attempt(() => client.send({ content: "hi", trace: "no" }))),
      text(await attempt(() => client.send({ content: "hi", contextPaths: ["a", 1] }))),
      text(await attempt(() => client.send({ contents: "hi" }))),
      text(await attempt(() => client.send(42))),
    ];
    const commands = [
      text(await attempt(() => client.command("list_files", ["."]))),
      text(await attempt(() => client.command("list_files", { big: 1n }))),
      // toJSON is honoured and undefined members are left out, as in JSON.stringify.
      text(await attempt(() => client.command("list_files", { path: { toJSON: () => "." }, gone: undefined }))),
      text(await attempt(() => client.command("list_files", { only: new Set([".py"]) }))),
      // An object whose toJSON makes it a string is no arguments object.
      text(await attempt(() => client.command("list_files", new Date(0)))),
    ];
    const feedback = [
      text(await attempt(() => client.traceFeedback({ traceId: "t" }))),
      text(await attempt(() => client.traceFeedback({ traceId: "t", isCorrect: true, coment: "typo" }))),
    ];
    return { options, messages, commands, feedback };
  });
  const { options, messages, commands, feedback } = r;
  assert.match(options[0], /^invalidOptions: `maxSteps` must be a whole number from 0 to 4294967295, not the number 2\.5$/);
  assert.match(options[1], /^invalidOptions: `chat` must be true or false, not a string$/);
  assert.match(options[2], /^invalidOptions: `batch` must be one of "task", "microtask", "frame", not another string$/);
  assert.match(options[3], /^invalidOptions: `maxAttempts` must be a whole number/);
  assert.match(options[4], /^invalidOptions: unknown key `maxAttempt` in `reconnect`; expected one of minDelayMs, maxDelayMs, maxAttempts$/);
  assert.match(options[5], /^invalidOptions: `userId` must be a string, not the number 7$/);
  assert.match(options[6], /^invalidOptions: missing option `userId`$/);
  assert.equal(options[7], "ok", "null and undefined are absent; valid values pass");
  assert.equal(options[8], "invalidOptions: `stallAfterMs` must be a whole number from 1 to 4294967295, not the number 0");
  assert.match(options[9], /^invalidOptions: `commandTimeoutMs` must be a whole number from 1 /);
  assert.match(options[10], /^invalidOptions: `maxFrameBytes` must be a whole number from 1 /);
  assert.equal(options[11], "invalidAuth: `auth` is an empty string");
  // The runs store keeps the run it is on: 0 runs was taken as 1 without a word.
  assert.equal(options[12], "invalidOptions: `maxRuns` must be a whole number from 1 to 4294967295, not the number 0");
  assert.equal(options[13], "ok", "a run may keep no steps");
  for (const text of options) assert.doesNotMatch(text, /secret-token/);
  assert.match(messages[0], /^invalidMessage: unknown key `trce` in the message; expected one of content, sessionId, trace,/);
  assert.match(messages[1], /^invalidMessage: `trace` must be true or false, not a string$/);
  assert.match(messages[2], /^invalidMessage: `contextPaths` must be an array of strings, not an array$/);
  assert.match(messages[3], /^invalidMessage: unknown key `contents` in the message/);
  assert.match(messages[4], /^invalidMessage: a message must be a string or a `\{ content, … \}` object$/);
  assert.match(commands[0], /^invalidMessage: command args must be an object$/);
  assert.match(commands[1], /^invalidMessage: command args: the arguments are not JSON: .*BigInt/);
  assert.equal(commands[2], "ok", "the command ran with its arguments as JSON.stringify made them");
  assert.equal(commands[3], "invalidMessage: command args: the arguments are not JSON: `only` is a Set, which JSON.stringify sends as {}; pass [...set]");
  assert.equal(commands[4], "invalidMessage: command args must be an object");
  assert.match(feedback[0], /^invalidMessage: feedback needs `isCorrect` \(true or false\)$/);
  assert.match(feedback[1], /^invalidMessage: unknown key `coment` in feedback; expected one of traceId, clientRequestId, isCorrect, comment, expectedResponse$/);
  assert.equal(await p.evaluate(() => window.fw.turn()), undefined, "no refused message started a turn");
  assertNoPageErrors(p);
});

test("the dev identity parameters authenticate both sockets; a watch-only client sees another client's runs", async () => {
  const p = await openClient({ auth: null, debugIdentity: { tenantId: "acme", userId: "ada" } });
  await waitLive(p);
  const sessionId = await p.evaluate(() => window.fw.client.sessionId);
  // A watch-only client (events socket only) of the same session and identity.
  await p.evaluate(async ({ base, sessionId }) => {
    const { FleetRlmClient } = await import("runwatch/fleet-rlm");
    window.watcher = new FleetRlmClient({ url: base, chat: false, sessionId, debugIdentity: { tenantId: "acme", userId: "ada" } });
  }, { base, sessionId });
  await p.waitForFunction(() => window.watcher.eventsState === "live");
  await p.evaluate(() => window.fw.client.send("watched turn"));
  await waitTurnEnded(p);
  await p.waitForFunction(() => window.watcher.runs.getSnapshot().runs.at(-1)?.status === "completed");
  const r = await p.evaluate(() => ({ mine: window.fw.run(), theirs: window.watcher.runs.getSnapshot().runs.at(-1) }));
  assert.equal(r.theirs.runId, r.mine.runId);
  assert.equal(r.theirs.steps, r.mine.steps);
  assert.equal(r.mine.workspaceId, "acme");
  await p.evaluate(() => window.watcher.close());
  assertNoPageErrors(p);
});

test("a client closed in the tick it was made opens neither socket", async () => {
  const p = await openClient();
  await waitLive(p);
  // The control: the page's sockets are counted (the live client's two).
  const before = p.sockets.length;
  assert.equal(before, 2, `sockets: ${p.sockets}`);
  const state = await p.evaluate(async (token) => {
    // A string credential: nothing to wait for before the sockets would open.
    const client = window.fw.make({ auth: token });
    client.close();
    await new Promise((resolve) => setTimeout(resolve, 500));
    return [client.chatState, client.eventsState];
  }, token);
  assert.deepEqual(state, ["closed", "closed"]);
  assert.equal(p.sockets.length, before, `the closed client opened a socket: ${p.sockets.slice(before)}`);
});

test("close() closes both sockets and forgets every listener; the stores keep their last snapshot; removers are idempotent", async () => {
  const p = await openClient();
  await waitLive(p);
  const sessionId = await p.evaluate(() => window.fw.client.sessionId);
  await p.evaluate(() => window.fw.client.send("before closing"));
  await waitTurnEnded(p);
  const r = await p.evaluate(async () => {
    const { fw } = window;
    let removed = 0;
    const off = fw.client.onChat(() => { removed += 1; });
    off();
    off();
    const turns = fw.client.turns.getSnapshot();
    const runs = fw.client.runs.getSnapshot();
    let afterClose = 0;
    fw.client.turns.subscribe(() => { afterClose += 1; });
    await new Promise((resolve) => {
      fw.client.onState((s) => { if (s.newState === "closed") resolve(); });
      fw.client.onDiagnostic(() => {});
      fw.client.close();
      fw.client.close();
    });
    const pending = await fw.attempt(() => fw.client.command("list_files"));
    return {
      removed, afterClose, pending: pending.err?.code,
      states: [fw.client.chatState, fw.client.eventsState],
      closedStates: fw.states.filter((s) => s.newState === "closed").map((s) => s.socket).sort(),
      sameTurns: fw.client.turns.getSnapshot() === turns, sameRuns: fw.client.runs.getSnapshot() === runs,
      send: (await fw.attempt(() => fw.client.send("after"))).err?.code,
    };
  });
  assert.equal(r.removed, 0);
  assert.equal(r.afterClose, 0);
  assert.equal(r.pending, "closed");
  assert.deepEqual(r.states, ["closed", "closed"]);
  assert.deepEqual(r.closedStates, ["chat", "events"]);
  assert.ok(r.sameTurns && r.sameRuns, "the last snapshots stay readable");
  assert.equal(r.send, "notConnected");
  const t0 = Date.now();
  let open = await sim.control("fleet/connections");
  while (open.some((c) => c.session_id === sessionId || c.role === "chat") && Date.now() - t0 < 5000) {
    await new Promise((res) => setTimeout(res, 50));
    open = await sim.control("fleet/connections");
  }
  assert.ok(!open.some((c) => c.session_id === sessionId || c.role === "chat"), `both sockets are closed: ${JSON.stringify(open)}`);
  assertNoPageErrors(p);
});

test("an open client nobody references keeps running through garbage collection (the package's lifetime rule)", async () => {
  const p = await openClient({ chat: false, events: false });
  const sessionId = await p.evaluate(async ({ base, token }) => {
    const { FleetRlmClient } = await import("runwatch/fleet-rlm");
    const seen = (window.unreferenced = { frames: [], live: false });
    const sessionId = `gc-${Math.random().toString(16).slice(2)}`;
    // Only the callbacks are kept (by `seen`); the client itself is not referenced anywhere.
    const client = new FleetRlmClient({ url: base, sessionId, chat: false, auth: token });
    client.onState((s) => { if (s.newState === "live") seen.live = true; });
    client.onExecution((frames) => seen.frames.push(...frames.map((f) => f.type)));
    return sessionId;
  }, { base, token });
  await p.waitForFunction(() => window.unreferenced.live);
  const cdp = await p.context().newCDPSession(p);
  for (let i = 0; i < 3; i++) {
    await cdp.send("HeapProfiler.collectGarbage");
    await new Promise((r) => setTimeout(r, 100));
  }
  // A turn of that session and identity, started on the server: the forgotten client sees it.
  await sim.control("fleet/turn", { session_id: sessionId, workspace_id: "acme", user_id: "ada", script: "normal", pace: 0 });
  await p.waitForFunction(() => window.unreferenced.frames.includes("execution_completed"));
  const conns = await sim.control("fleet/connections");
  assert.ok(conns.some((c) => c.role === "events" && c.session_id === sessionId), "its socket is still open");
  assertNoPageErrors(p);
});
