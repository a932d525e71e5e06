// A consumer of Muster's event log in JavaScript, with the `nats` npm package only.
//
// Reads the whole stream in order (a JetStream ordered consumer: no state on the server, no
// acks), up to the last event stored when it started, and prints one JSON summary line:
// how many events of each type, the last stream sequence, duplicates dropped by Nats-Msg-Id,
// and whether every aggregate's versions came in order 1, 2, 3, ...
//
//   NATS_URL=nats://127.0.0.1:4222 node consumer.mjs
//   (MUSTER_EVENTS_STREAM / MUSTER_EVENTS_SUBJECT_PREFIX as Muster's own settings)
//
// The contract it relies on is docs/events.md.
import { connect } from "nats";

const url = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const stream = process.env.MUSTER_EVENTS_STREAM ?? "EVENTS";
const prefix = process.env.MUSTER_EVENTS_SUBJECT_PREFIX ?? "events";

// Credentials in the URL (nats://user:password@host:port) become connect options.
const parsed = new URL(url);
const nc = await connect({
  servers: `${parsed.hostname}:${parsed.port || 4222}`,
  ...(parsed.username && {
    user: decodeURIComponent(parsed.username),
    pass: decodeURIComponent(parsed.password),
  }),
});
const jsm = await nc.jetstreamManager();
const end = (await jsm.streams.info(stream)).state.last_seq;

const types = {};
const seenMsgIds = new Set(); // a real consumer keeps a window of recent ids, or its position
const lastVersion = new Map(); // aggregate subject -> last aggregate version seen
let count = 0;
let duplicates = 0;
let outOfOrder = 0;
let lastSeq = 0;

if (end > 0) {
  const consumer = await nc.jetstream().consumers.get(stream, {
    filterSubjects: [`${prefix}.>`],
  });
  const messages = await consumer.consume();
  for await (const m of messages) {
    lastSeq = m.seq;
    const msgId = m.headers?.get("Nats-Msg-Id");
    if (msgId && seenMsgIds.has(msgId)) {
      duplicates += 1; // the same command stored twice (outside the server's dedup window)
    } else {
      if (msgId) seenMsgIds.add(msgId);
      const type = m.headers.get("Muster-Event-Type");
      const version = m.headers.get("Muster-Event-Version");
      const body = JSON.parse(m.string());
      if (body.type !== `${type}.v${version}`) throw new Error(`seq ${m.seq}: header/body type differ`);
      const aggregateVersion = Number(m.headers.get("Muster-Originator-Version"));
      if (aggregateVersion !== (lastVersion.get(m.subject) ?? 0) + 1) outOfOrder += 1;
      lastVersion.set(m.subject, aggregateVersion);
      types[type] = (types[type] ?? 0) + 1;
      count += 1;
    }
    if (m.seq >= end) break;
  }
}
console.log(JSON.stringify({ count, last_seq: lastSeq, types, duplicates, out_of_order: outOfOrder }));
await nc.close();
