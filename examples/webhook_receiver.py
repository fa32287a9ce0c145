"""A stand-alone APF webhook receiver (needs only aiohttp).

Checks ``X-APF-Signature`` (HMAC-SHA256 of the raw body with the webhook's
secret), answers 401 to a bad signature, de-duplicates on ``X-APF-Event-Id``
(deliveries are at least once: after a server restart an event may come
twice) and prints each event once.

    APF_WEBHOOK_SECRET=whsec_... python examples/webhook_receiver.py --port 8099

then create the webhook (the response shows the secret once):

    curl -X POST http://127.0.0.1:8580/public/v1/webhooks \\
         -H "Authorization: Bearer $APF_API_KEY" -H 'Content-Type: application/json' \\
         -d '{"url": "http://127.0.0.1:8099/apf", "events": ["job.*", "printer.*"]}'
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
from collections import OrderedDict

from aiohttp import web

SEEN_LIMIT = 100_000


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return header is not None and hmac.compare_digest(expected, header.strip())


def make_app(secret: str, path: str) -> web.Application:
    seen: OrderedDict[str, None] = OrderedDict()

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()  # the raw bytes: sign exactly what was sent
        if not signature_ok(secret, body, request.headers.get("X-APF-Signature")):
            return web.Response(status=401, text="bad signature")
        event_id = request.headers.get("X-APF-Event-Id", "")
        if event_id in seen and event_id != "0":  # id 0 is the test delivery
            return web.Response(text="duplicate")
        seen[event_id] = None
        if len(seen) > SEEN_LIMIT:
            seen.popitem(last=False)
        event = json.loads(body)
        print(f"{event['id']:>8} {event['time']} {event['type']:<28} "
              f"{json.dumps(event['data'])[:120]}", flush=True)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post(path, receive)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a LAN receiver
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--path", default="/apf")
    parser.add_argument("--secret", default=os.environ.get("APF_WEBHOOK_SECRET"),
                        help="the webhook's secret (default: $APF_WEBHOOK_SECRET)")
    args = parser.parse_args()
    if not args.secret:
        parser.error("the webhook secret is needed (--secret or APF_WEBHOOK_SECRET)")
    web.run_app(make_app(args.secret, args.path), host=args.host, port=args.port,
                access_log=None)


if __name__ == "__main__":
    main()
