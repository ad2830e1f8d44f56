"""websockets_peer.py: python3-websockets (Debian's, 10.x) as a peer of eddy's
interop tests (interop/peers_test.go describes the exchange, the same for
every peer).

  python3 websockets_peer.py client ws://127.0.0.1:PORT   runs the client's steps on /a, /b and /c
  python3 websockets_peer.py server [BITS]                prints "listening PORT", then a JSON
                                                          line per connection closed; ends with stdin;
                                                          BITS: server_max_window_bits
"""

import asyncio
import json
import sys

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, ServerPerMessageDeflateFactory

MAX_SIZE = 64 << 20
TEXT = "héllo, wörld ✓"
BYTES = bytes(range(256))
MEBIBYTE = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(1 << 20))
COMPRESSIBLE = "eddy interop " * 80660
SHORT = "eddy interop " * 30
LONGER = (TEXT + " ") * 200


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def ok(step):
    print(f"ok {step}", flush=True)


async def expect_message(ws, step, want):
    got = await ws.recv()
    if type(got) is not type(want) or got != want:
        fail(f"{step}: got {type(got).__name__} of {len(got)}, want {type(want).__name__} of {len(want)}")
    ok(step)


async def client(base):
    async with websockets.connect(base + "/a", compression=None, max_size=MAX_SIZE) as ws:
        for step, msg in (("a text", TEXT), ("a binary", BYTES), ("a binary 1 MiB", MEBIBYTE)):
            await ws.send(msg)
            await expect_message(ws, step, msg)
        await ws.send(["frag", "men", "ted ✓"])  # an iterable: one fragment each
        await expect_message(ws, "a fragmented", "fragmented ✓")
        await ws.send("frag")
        await expect_message(ws, "a fragmented by the server", "server fragmented")
        pong = await ws.ping(b"p1")
        await pong  # resolved by the Pong carrying p1
        ok("a ping")
        await ws.send("ping")
        await expect_message(ws, "a ping by the server", "pong:sp")
        await ws.close(4001, "client bye")
        if ws.close_code != 4001:
            fail(f"a close: {ws.close_code} {ws.close_reason!r}, want 4001")
        ok("a close")

    async with websockets.connect(base + "/b", compression="deflate", max_size=MAX_SIZE) as ws:
        names = [e.name for e in ws.extensions]
        if names != ["permessage-deflate"]:
            fail(f"b: extensions {names}")
        for step in ("b compressed", "b compressed again"):
            await ws.send(COMPRESSIBLE)
            await expect_message(ws, step, COMPRESSIBLE)
        await ws.send("close")
        try:
            got = await ws.recv()
            fail(f"b close by the server: got a message of {len(got)}")
        except websockets.ConnectionClosed as e:
            if e.rcvd is None or (e.rcvd.code, e.rcvd.reason) != (4002, "server bye"):
                fail(f"b close by the server: received {e.rcvd}")
        ok("b close by the server")

    small = ClientPerMessageDeflateFactory(server_max_window_bits=9, client_max_window_bits=9)
    async with websockets.connect(base + "/c", extensions=[small], compression=None, max_size=MAX_SIZE) as ws:
        names = [e.name for e in ws.extensions]
        if names != ["permessage-deflate"]:
            fail(f"c: extensions {names}")
        for step, msg in (("c short", SHORT), ("c longer than the window", LONGER), ("c compressible", COMPRESSIBLE)):
            await ws.send(msg)
            await expect_message(ws, step, msg)
        await ws.close()
        if ws.close_code != 1000:
            fail(f"c close: {ws.close_code} {ws.close_reason!r}, want 1000")
        ok("c close")
    print("done", flush=True)


async def handler(ws):
    try:
        async for msg in ws:
            if msg == "frag":
                await ws.send(["server ", "frag", "mented"])
            elif msg == "ping":
                pong = await ws.ping(b"sp")
                await pong
                await ws.send("pong:sp")
            elif msg == "close":
                await ws.close(4002, "server bye")
            else:
                await ws.send(msg)
    except websockets.ConnectionClosed:
        pass
    rec = {"path": ws.path, "compressed": bool(ws.extensions), "code": ws.close_code, "reason": ws.close_reason}
    print(json.dumps(rec), flush=True)


async def server(bits):
    # By default websockets asks for 4 KiB windows each way (12 bits).
    opts = {"compression": "deflate"}
    if bits:
        opts = {"compression": None, "extensions": [ServerPerMessageDeflateFactory(server_max_window_bits=bits)]}
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=MAX_SIZE, **opts) as srv:
        print(f"listening {srv.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def main():
    if sys.argv[1:2] == ["client"] and len(sys.argv) == 3:
        asyncio.run(asyncio.wait_for(client(sys.argv[2]), 60))
    elif sys.argv[1:2] == ["server"] and len(sys.argv) <= 3:
        asyncio.run(server(int(sys.argv[2]) if len(sys.argv) == 3 else None))
    else:
        fail("usage: websockets_peer.py client URL | server [BITS]")


if __name__ == "__main__":
    main()
