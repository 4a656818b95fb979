// A promise-based channel with Go's semantics for the Node side of the concurrency
// benchmarks: Node has async functions and promises but no channel.
//
//   const { Chan } = require("./chan.js");
//   const ch = new Chan();          // unbuffered; new Chan(64) buffered
//   await ch.send(1);               // resolves once a receiver has the value (or it is buffered)
//   const v = await ch.recv();      // undefined once the channel is closed and drained
//   ch.close();
//
// A send on an unbuffered channel hands the value straight to a waiting receiver, or waits
// until one comes; a buffered channel waits only when full. Waiters are kept in Queue, not
// in arrays with shift(), so a long queue costs O(1) per operation.
"use strict";

class Queue {
  constructor() {
    this.items = [];
    this.head = 0;
  }
  get length() {
    return this.items.length - this.head;
  }
  push(v) {
    this.items.push(v);
  }
  shift() {
    if (this.head === this.items.length) return undefined;
    const v = this.items[this.head];
    this.items[this.head] = undefined;
    this.head++;
    if (this.head === this.items.length) {
      // Empty: start over so the array does not grow without bound.
      this.items.length = 0;
      this.head = 0;
    }
    return v;
  }
}

const DONE = Promise.resolve();

class Chan {
  constructor(cap = 0) {
    this.cap = cap;
    this.closed = false;
    this.buf = new Queue();
    this.receivers = new Queue(); // resolve functions of pending recv() promises
    this.senders = new Queue(); // {value, resolve} of pending send() promises
  }

  send(value) {
    if (this.closed) throw new Error("send on a closed channel");
    const r = this.receivers.shift();
    if (r !== undefined) {
      r(value);
      return DONE;
    }
    if (this.buf.length < this.cap) {
      this.buf.push(value);
      return DONE;
    }
    return new Promise((resolve) => this.senders.push({ value, resolve }));
  }

  recv() {
    if (this.buf.length > 0) {
      const v = this.buf.shift();
      // A sender waiting on a full buffer moves its value in and goes on.
      const s = this.senders.shift();
      if (s !== undefined) {
        this.buf.push(s.value);
        s.resolve();
      }
      return Promise.resolve(v);
    }
    const s = this.senders.shift();
    if (s !== undefined) {
      s.resolve();
      return Promise.resolve(s.value);
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.receivers.push(resolve));
  }

  close() {
    this.closed = true;
    for (let r = this.receivers.shift(); r !== undefined; r = this.receivers.shift()) r(undefined);
  }
}

module.exports = { Chan };
