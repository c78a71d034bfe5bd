/** Saved state across Client instances (app restarts): stores, and exactly the missed messages. */
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Client, LocalStorageStore, MemoryStore, pb, type StateDocument, type StateStore } from "../../src/index.js";
import { FakeGateway, until } from "../fake-gateway.js";

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** An app's own store, asynchronous like a file or IndexedDB would be. */
class AsyncMapStore implements StateStore {
  readonly documents = new Map<string, string>();
  saves = 0;

  async load(key: string): Promise<StateDocument | null> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const text = this.documents.get(key);
    return text === undefined ? null : (JSON.parse(text) as StateDocument);
  }

  async save(key: string, document: StateDocument): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    this.saves += 1;
    this.documents.set(key, JSON.stringify(document));
  }
}

/** Conversations as the real gateway lists them: those changed since the cursor (a write count). */
class Conversations {
  private writes = 0;
  private readonly last = new Map<string, { seq: bigint; at: number }>();

  constructor(private readonly g: FakeGateway) {}

  write(from: string, seq: number, text: string): pb.Message {
    this.last.set(from, { seq: BigInt(seq), at: ++this.writes });
    return this.g.message(from, seq, text);
  }

  listed(cursor: string): pb.SyncResult {
    const since = cursor === "" ? -1 : Number(cursor.slice(1));
    const conversations = [...this.last]
      .filter(([, last]) => last.at > since)
      .map(([target, last]) => create(pb.ConversationSummarySchema, { conversationType: pb.ConversationType.P2P, target, lastSeq: last.seq }));
    return create(pb.SyncResultSchema, { conversations, cursor: `c${this.writes}` });
  }
}

function listingGateway(g: FakeGateway, conversations: Conversations): void {
  const listed = (cursor: string): pb.SyncResult => conversations.listed(cursor);
  g.script = (conn, frame, gw) => {
    const body = frame.body;
    if (body.case === "login") {
      gw.logins += 1;
      gw.send(conn, frame.requestId, { case: "loginResult", value: create(pb.LoginResultSchema, { sessionId: `s${gw.logins}`, protocolVersion: 1 }) });
      if (body.value.syncCursor !== "") gw.send(conn, 0n, { case: "syncResult", value: listed(body.value.syncCursor) });
      return true;
    }
    if (body.case === "sync" && body.value.conversationType === pb.ConversationType.UNSPECIFIED) {
      gw.send(conn, frame.requestId, { case: "syncResult", value: listed(body.value.cursor) });
      return true;
    }
    return false;
  };
}

test("a new Client with the same store hands over exactly the messages missed while none ran, in order", { timeout: 30_000 }, async () => {
  const g = await FakeGateway.start();
  cleanup.push(() => g.close());
  const conversations = new Conversations(g);
  const write = (from: string, seq: number, text: string): pb.Message => conversations.write(from, seq, text);
  listingGateway(g, conversations);
  const store = new AsyncMapStore();
  const options = {
    appKey: "app", deviceId: "dev", endpoints: [g.url], store, storeFlushInterval: 0.05,
    heartbeatMin: 0.1, heartbeatMax: 1000, heartbeatProbeAfter: 1, heartbeatSuccessesPerStep: 1, heartbeatStep: 0.1,
  };

  const first = new Client(options);
  cleanup.push(() => first.close());
  const firstSeen: pb.Message[] = [];
  first.on("message", (m) => firstSeen.push(m));
  await first.login("alice", "good");
  g.push({ case: "message", value: write("bob", 1, "before 1") });
  g.push({ case: "message", value: write("bob", 2, "before 2") });
  await until(() => firstSeen.length === 2, "the first run's messages");
  await until(() => first.heartbeatSnapshot().interval >= 0.3, "the heartbeat to learn a longer interval");
  await until(() => store.saves > 0, "a batched write while running");
  await first.close();
  const learned = first.heartbeatSnapshot();
  const session = JSON.parse(store.documents.get("session:app:alice")!) as { cursor: string; delivered: Record<string, number> };
  assert.deepEqual(session.delivered, { "1:bob": 2 });
  assert.equal(session.cursor, "c0", "the cursor of the listing at login (live messages do not move it)");

  // No client runs: bob writes on, and carol starts a conversation never seen before.
  for (const n of [3, 4, 5]) write("bob", n, `while away ${n}`);
  for (const n of [1, 2]) write("carol", n, `hi from carol ${n}`);

  const second = new Client(options);
  cleanup.push(() => second.close());
  const seen: pb.Message[] = [];
  second.on("message", (m) => seen.push(m));
  await second.login("alice", "good");
  assert.equal(second.heartbeatSnapshot().interval, learned.interval, "the learned heartbeat came back");
  assert.equal((g.frames("login").at(-1)!.body.value as pb.Login).syncCursor, "c0", "the saved cursor is sent");
  await until(() => seen.length >= 5, "the missed messages");
  await new Promise((resolve) => setTimeout(resolve, 200)); // room for a repeat to show up, were there one
  assert.deepEqual(seen.filter((m) => m.target === "bob").map((m) => m.text), ["while away 3", "while away 4", "while away 5"]);
  assert.deepEqual(seen.filter((m) => m.target === "carol").map((m) => m.text), ["hi from carol 1", "hi from carol 2"]);
  assert.equal(seen.length, 5);
  await second.close();
  const saved = JSON.parse(store.documents.get("session:app:alice")!) as { cursor: string; delivered: Record<string, number> };
  assert.deepEqual(saved.delivered, { "1:bob": 5, "1:carol": 2 });
  assert.equal(saved.cursor, "c7");
});

test("the stores: MemoryStore hands out copies; LocalStorageStore keeps every key in one item", () => {
  const memory = new MemoryStore();
  const document = { cursor: "c1", delivered: { "1:bob": 1 } };
  memory.save("s", document);
  document.delivered["1:bob"] = 99;
  assert.deepEqual(memory.load("s"), { cursor: "c1", delivered: { "1:bob": 1 } });

  const items = new Map<string, string>();
  const storage = {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
  } as unknown as Storage;
  const local = new LocalStorageStore("my-app.imcloud", storage);
  assert.equal(local.load("heartbeat"), null);
  local.save("heartbeat", { networks: [] });
  local.save("session:app:alice", { cursor: "c2", delivered: {} });
  assert.deepEqual([...items.keys()], ["my-app.imcloud"]);
  assert.deepEqual(new LocalStorageStore("my-app.imcloud", storage).load("session:app:alice"), { cursor: "c2", delivered: {} });
  items.set("my-app.imcloud", "{not json");
  assert.equal(local.load("heartbeat"), null, "a damaged item reads as empty");
  assert.throws(() => new LocalStorageStore("x"), TypeError, "Node has no localStorage");
});
