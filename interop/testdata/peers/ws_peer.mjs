// ws_peer.mjs: the npm ws package as a peer of eddy's interop tests
// (interop/peers_test.go describes the exchange, the same for every peer).
//
//   node ws_peer.mjs client ws://127.0.0.1:PORT   runs the client's steps on /a, /b and /c
//   node ws_peer.mjs server [BITS]                prints "listening PORT", then a JSON
//                                                 line per connection closed; ends with stdin;
//                                                 BITS: server_max_window_bits
import { WebSocket, WebSocketServer } from 'ws';
import { Buffer } from 'node:buffer';

const maxPayload = 64 << 20;

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}

// events queues what a connection reports, for the steps to await in order.
function events(ws) {
  const queue = [];
  const waiters = [];
  const push = (ev) => (waiters.length ? waiters.shift()(ev) : queue.push(ev));
  ws.on('message', (data, isBinary) => push({ type: 'message', data, isBinary }));
  ws.on('pong', (data) => push({ type: 'pong', data }));
  ws.on('close', (code, reason) => push({ type: 'close', code, reason: reason.toString() }));
  ws.on('error', (err) => push({ type: 'error', err }));
  return () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)));
}

async function expectMessage(next, step, want, isBinary) {
  const ev = await next();
  if (ev.type !== 'message') fail(`${step}: got ${ev.type} ${ev.err || ev.code || ''}, want a message`);
  if (ev.isBinary !== isBinary) fail(`${step}: binary ${ev.isBinary}, want ${isBinary}`);
  if (!ev.data.equals(Buffer.from(want))) fail(`${step}: ${ev.data.length} bytes differ from the ${Buffer.from(want).length} sent`);
  console.log(`ok ${step}`);
}

async function expectClose(next, step, code, reason) {
  const ev = await next();
  if (ev.type !== 'close') fail(`${step}: got ${ev.type}, want close`);
  if (ev.code !== code || (reason !== undefined && ev.reason !== reason)) fail(`${step}: close ${ev.code} "${ev.reason}", want ${code} "${reason}"`);
  console.log(`ok ${step}`);
}

function open(url, deflate) {
  const ws = new WebSocket(url, { perMessageDeflate: deflate, maxPayload });
  const next = events(ws);
  return new Promise((resolve) => {
    ws.once('open', () => resolve([ws, next]));
    ws.once('error', (err) => fail(`open ${url}: ${err.message}`));
  });
}

// The messages, as peers_test.go has them.
const text = 'héllo, wörld ✓';
const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const mebibyte = Buffer.alloc(1 << 20, 0).map((_, i) => (i * 7 + (i >> 8)) & 0xff);
const compressible = 'eddy interop '.repeat(80660);
const short = 'eddy interop '.repeat(30);
const longer = (text + ' ').repeat(200);

async function client(base) {
  let [ws, next] = await open(base + '/a', false);
  ws.send(text);
  await expectMessage(next, 'a text', text, false);
  ws.send(bytes);
  await expectMessage(next, 'a binary', bytes, true);
  ws.send(mebibyte);
  await expectMessage(next, 'a binary 1 MiB', mebibyte, true);
  ws.send('frag', { fin: false });
  ws.send('men', { fin: false });
  ws.send('ted ✓', { fin: true });
  await expectMessage(next, 'a fragmented', 'fragmented ✓', false);
  ws.send('frag');
  await expectMessage(next, 'a fragmented by the server', 'server fragmented', false);
  ws.ping('p1');
  let ev = await next();
  if (ev.type !== 'pong' || ev.data.toString() !== 'p1') fail(`a ping: got ${ev.type} "${ev.data}"`);
  console.log('ok a ping');
  ws.send('ping');
  await expectMessage(next, 'a ping by the server', 'pong:sp', false);
  ws.close(4001, 'client bye');
  await expectClose(next, 'a close', 4001);

  [ws, next] = await open(base + '/b', {});
  if (ws.extensions !== 'permessage-deflate') fail(`b: extensions "${ws.extensions}"`);
  for (const step of ['b compressed', 'b compressed again']) {
    ws.send(compressible);
    await expectMessage(next, step, compressible, false);
  }
  ws.send('close');
  await expectClose(next, 'b close by the server', 4002, 'server bye');

  [ws, next] = await open(base + '/c', { serverMaxWindowBits: 9, clientMaxWindowBits: 9, threshold: 0 });
  if (ws.extensions !== 'permessage-deflate') fail(`c: extensions "${ws.extensions}"`);
  for (const [step, m] of [['c short', short], ['c longer than the window', longer], ['c compressible', compressible]]) {
    ws.send(m);
    await expectMessage(next, step, m, false);
  }
  ws.close(1000);
  await expectClose(next, 'c close', 1000);
  console.log('done');
}

function server(bits) {
  const perMessageDeflate = bits ? { serverMaxWindowBits: Number(bits) } : {};
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate, maxPayload });
  wss.on('listening', () => console.log(`listening ${wss.address().port}`));
  wss.on('connection', (ws, req) => {
    const path = req.url;
    ws.on('message', (data, isBinary) => {
      const cmd = isBinary ? '' : data.toString();
      if (cmd === 'frag') {
        ws.send('server ', { fin: false });
        ws.send('frag', { fin: false });
        ws.send('mented', { fin: true });
      } else if (cmd === 'ping') {
        ws.once('pong', (p) => ws.send('pong:' + p.toString()));
        ws.ping('sp');
      } else if (cmd === 'close') {
        ws.close(4002, 'server bye');
      } else {
        ws.send(data, { binary: isBinary });
      }
    });
    ws.on('close', (code, reason) => {
      console.log(JSON.stringify({ path, compressed: ws.extensions === 'permessage-deflate', code, reason: reason.toString() }));
    });
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

const [mode, url] = process.argv.slice(2);
if (mode === 'client') {
  client(url).then(() => process.exit(0), (err) => fail(err.stack));
} else if (mode === 'server') {
  server(url);
} else {
  fail('usage: node ws_peer.mjs client URL | server [BITS]');
}
