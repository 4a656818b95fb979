// switch_raw: a bare generator switch, for comparison with Lua's coroutine floor:
// 10,000,000 next() calls on a generator that yields at once. async/await adds promises
// and the microtask queue on top of this; switch.js measures that.
"use strict";

function main(n) {
  function* gen() {
    for (;;) yield;
  }
  const g = gen();
  let count = 0;
  for (let i = 0; i < n; i++) {
    g.next();
    count++;
  }
  console.log(count);
}

main(10000000);
