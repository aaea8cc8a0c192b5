// A minimal, fast integration backend for latency benchmarks: answers every POST with a proxy
// response whose body is the request's own `body` field (so the WebSocket client gets its echo).
const http = require('http');
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = '';
    try { body = JSON.parse(Buffer.concat(chunks).toString()).body || ''; } catch (e) { body = ''; }
    const out = JSON.stringify({ statusCode: 200, body });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
    res.end(out);
  });
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => console.log('listening ' + server.address().port));
