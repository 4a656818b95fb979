// select_fanin: 8 producers each send 50,000 ints on their own unbuffered channel
// (chan.js); one consumer takes them with Promise.race over one pending recv() per channel
// until all are closed. Prints the count and a checksum that weighs each value by its
// channel's number.
//
// JavaScript has no select: the consumer keeps one recv() per open channel, races them, and
// starts a new recv() only on the channel that answered, so no value is taken and lost.
"use strict";
const { Chan } = require("./chan.js");

async function producer(ch, base, n) {
  for (let i = 0; i < n; i++) await ch.send(base + i);
  ch.close();
}

function tagged(ch, p) {
  return ch.recv().then((v) => ({ p, v }));
}

async function main(n) {
  const chans = [];
  const producers = [];
  for (let p = 0; p < 8; p++) {
    const ch = new Chan();
    chans.push(ch);
    producers.push(producer(ch, p * n, n));
  }
  const pending = new Map(); // channel number -> its pending tagged recv
  chans.forEach((ch, p) => pending.set(p, tagged(ch, p)));
  let count = 0;
  let sum = 0;
  while (pending.size > 0) {
    const { p, v } = await Promise.race(pending.values());
    if (v === undefined) {
      pending.delete(p);
      continue;
    }
    count++;
    sum = (sum + (p + 1) * v) % 1000003;
    pending.set(p, tagged(chans[p], p));
  }
  await Promise.all(producers);
  console.log(`${count} ${sum}`);
}

main(50000);
