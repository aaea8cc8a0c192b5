#!/usr/bin/env node
// Peer server for Benchmarks/ws-compare.sh: WebSocket echo with Debian's node `ws`
// (apt-get install node-ws; /usr/share/nodejs/ws).
//
//   node node-ws-echo.js PORT        (PORT may be 0: the kernel picks one)
//
// Listens on 127.0.0.1 only, path-agnostic, no permessage-deflate, payloads up to 256 KiB.
// Text is echoed as text and binary as binary. Prints "listening PORT" once bound.
'use strict';

const { WebSocketServer } = require('/usr/share/nodejs/ws');

const port = Number.parseInt(process.argv[2] ?? '', 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write('usage: node node-ws-echo.js PORT\n');
  process.exit(2);
}

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  backlog: 511,
  perMessageDeflate: false,
  maxPayload: 256 * 1024,
  clientTracking: false,
});

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary });
  });
  ws.on('error', () => {});
});

wss.on('listening', () => {
  process.stdout.write(`listening ${wss.address().port}\n`);
});

wss.on('error', (err) => {
  process.stderr.write(`node-ws-echo: ${err.message}\n`);
  process.exit(1);
});

const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
