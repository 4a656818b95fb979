// pingpong: two async tasks bounce an int over a pair of unbuffered channels (chan.js,
// promise-based), 400,000 round trips.
"use strict";
const { Chan } = require("./chan.js");

async function pinger(ping, pong, n) {
  let v = 0;
  for (let i = 0; i < n; i++) {
    await ping.send(v);
    v = await pong.recv();
  }
  ping.close();
  return v;
}

async function ponger(ping, pong) {
  for (;;) {
    const v = await ping.recv();
    if (v === undefined) break;
    await pong.send(v + 1);
  }
}

async function main(n) {
  const ping = new Chan();
  const pong = new Chan();
  const b = ponger(ping, pong);
  const a = pinger(ping, pong, n);
  console.log(await a);
  await b;
}

main(400000);
