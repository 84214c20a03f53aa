// A fake upstream for the live-traffic flows: long-lived streams that
// scimgate must cut when a user loses access.
//
//   node upstream.mjs PORT        (or env FAKE_PORT)
//
//   GET /live/hello      a short text
//   GET /live/headers    the request headers as JSON (what the proxy sent)
//   GET /live/download   64 KiB every 50 ms, forever, until the client goes
//   GET /live/ws         websocket echo
//   GET /stats           open downloads and websockets, as JSON
//                        (read directly, not through the proxy)
//
// Prints `ready URL` on stdout once it listens.
import http from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] ?? process.env.FAKE_PORT);
if (!port) {
  console.error('usage: upstream.mjs PORT');
  process.exit(2);
}

const CHUNK = Buffer.alloc(64 * 1024, 'x');
const CHUNK_INTERVAL_MS = 50;
const open = { downloads: 0, websockets: 0 };

function download(req, res) {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' });
  open.downloads += 1;
  // Skip a tick while the client is not reading, rather than queue without bound.
  const timer = setInterval(() => res.writableNeedDrain || res.write(CHUNK), CHUNK_INTERVAL_MS);
  res.on('close', () => {
    clearInterval(timer);
    open.downloads -= 1;
  });
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const path = new URL(req.url, 'http://upstream').pathname;
  if (req.method !== 'GET') return send(res, 405, 'text/plain', 'GET only\n');
  switch (path) {
    case '/live/hello': return send(res, 200, 'text/plain; charset=utf-8', 'hello from upstream\n');
    case '/live/headers': return send(res, 200, 'application/json', JSON.stringify(req.headers));
    case '/live/download': return download(req, res);
    case '/stats': return send(res, 200, 'application/json', JSON.stringify(open));
    default: return send(res, 404, 'text/plain', 'not found\n');
  }
});

const sockets = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, socket, head) => {
  if (new URL(req.url, 'http://upstream').pathname !== '/live/ws') {
    socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
    return;
  }
  sockets.handleUpgrade(req, socket, head, (ws) => {
    open.websockets += 1;
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => ws.terminate());
    ws.on('close', () => { open.websockets -= 1; });
  });
});

server.listen(port, '127.0.0.1', () => console.log(`ready http://127.0.0.1:${port}`));

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const ws of sockets.clients) ws.terminate();
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
