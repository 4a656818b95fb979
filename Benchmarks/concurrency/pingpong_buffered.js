// pingpong_buffered: a producer sends 2,000,000 ints into a channel with a 64-value buffer
// (chan.js), a consumer sums them.
"use strict";
const { Chan } = require("./chan.js");

async function producer(ch, n) {
  for (let i = 0; i < n; i++) await ch.send(i);
  ch.close();
}

async function consumer(ch) {
  let sum = 0;
  for (;;) {
    const v = await ch.recv();
    if (v === undefined) break;
    sum = (sum * 31 + v) % 1000003;
  }
  return sum;
}

async function main(n) {
  const ch = new Chan(64);
  const c = consumer(ch);
  const p = producer(ch, n);
  console.log(await c);
  await p;
}

main(2000000);
