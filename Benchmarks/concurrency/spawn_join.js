// spawn/join: start 100,000 async tasks that each compute a small int, then await them all.
// An async function runs synchronously up to its first await, so each task awaits once
// before its work: like a fiber, a goroutine or an asyncio task, it starts later, not
// inside the call that spawns it.
"use strict";

async function work(i) {
  await undefined;
  return (i * i) % 1009;
}

async function main(n) {
  const tasks = [];
  for (let i = 0; i < n; i++) tasks.push(work(i));
  let sum = 0;
  for (const t of tasks) sum += await t;
  console.log(sum);
}

main(100000);
