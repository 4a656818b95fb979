// switch: the cost of a task switch. A sender sends 500,000 ints on an unbuffered
// channel (chan.js) and the receiver counts them.
"use strict";
const { Chan } = require("./chan.js");

async function sender(ch, n) {
  for (let i = 0; i < n; i++) await ch.send(i);
  ch.close();
}

async function main(n) {
  const ch = new Chan();
  const s = sender(ch, n);
  let count = 0;
  while ((await ch.recv()) !== undefined) count++;
  await s;
  console.log(count);
}

main(500000);
