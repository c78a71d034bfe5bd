// A terminal chat on @imcloud/sdk (Node >= 20): lines you type go to the peer; what arrives is printed.
//
//   npm run build    # once, in sdk_clients/typescript
//   IM_APP_KEY=... IM_ENDPOINT=ws://127.0.0.1:8000/ws IM_ACCID=alice IM_TOKEN=... IM_PEER=bob \
//     node examples/chat.mjs
import { createInterface } from "node:readline";
import { Client } from "../dist/index.js";

const env = (name, fallback) => process.env[name] ?? fallback ?? (() => { throw new Error(`set ${name}`); })();
const endpoint = env("IM_ENDPOINT", "ws://127.0.0.1:8000/ws");
const peer = env("IM_PEER", "bob");

const client = new Client({
  appKey: env("IM_APP_KEY"),
  lbsUrl: process.env.IM_LBS_URL,
  endpoints: [endpoint],
  httpEndpoints: [endpoint.replace(/^ws/, "http").replace(/\/ws$/, "")],
  deviceId: process.env.IM_DEVICE_ID ?? `chat-${env("IM_ACCID")}`,
});
client.on("state", (state, detail) => console.error(`[${state}${detail.transport === "http" ? " over http" : ""}]`));
client.on("message", (m) => console.log(`${m.fromAccid} #${m.seq}: ${m.text || m.custom || "(no text)"}`));
client.on("error", (e) => console.error(`! ${e.code}: ${e.message}`));

await client.login(env("IM_ACCID"), env("IM_TOKEN"));
console.error(`logged in; talking to ${peer} (Ctrl-D quits)`);
const input = createInterface({ input: process.stdin });
for await (const line of input) {
  if (!line.trim()) continue;
  const ack = await client.sendText(peer, line);
  console.error(`  sent #${ack.seq}`);
}
await client.close();
