// Echo server: accepts TCP connections on 127.0.0.1:PORT (argv[2]) and writes back
// whatever each connection sends until the client closes (the net module, one 'data'
// handler per connection). Runs until killed.
"use strict";
const net = require("net");

const port = Number(process.argv[2]);
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on("data", (data) => socket.write(data));
  socket.on("end", () => socket.end());
  socket.on("error", () => socket.destroy()); // a reset ends only this connection
});
server.listen({ host: "127.0.0.1", port, backlog: 1024 });
