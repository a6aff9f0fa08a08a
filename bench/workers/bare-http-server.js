// The HTTP yardstick's server (bench/scenarios/http-bare.js): a bare node:http server that reads
// the body, JSON.parses it like `ironlog serve` does, and answers 200 {"seqs":[n]} at once, with
// no I/O. Prints "listening on http://host:port" (the same line `ironlog serve` prints).
import * as http from 'node:http';

let seq = 0;
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let parsed;
    try {
      parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":"bad json"}');
      return;
    }
    const n = Array.isArray(parsed) ? parsed.length : 1;
    const seqs = [];
    for (let i = 0; i < n; i++) seqs.push(++seq);
    const body = JSON.stringify({ seqs });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { address, port } = server.address();
  process.stdout.write(`listening on http://${address}:${port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
