#!/usr/bin/env python3
"""A fake of the HubSpot and Google APIs for benchmarks, with their real limits.

Every call waits LATENCY (100 ms) before it is answered. Past a limit the
fake answers 429 with Retry-After, as the vendors would:

- HubSpot: 100 calls per rolling 10 s per app (HUBSPOT_LIMIT), the CRM
  search API 5 calls per second;
- Gmail: 250 quota units per rolling second per mailbox (GMAIL_UNITS), each
  method costing Google's units (messages.list 5, threads.get 10,
  drafts.create 10, drafts.send 100, ...);
- the OAuth token endpoint and Calendar free/busy are not limited.

GET /stats answers the calls, units and 429s so far, by vendor, with the
time of the first and last call. Contacts are always new (batch reads find
nothing), so every lead is created, as in a burst of new leads.

    python3 benches/vendor_fake.py --port 9900 [--latency-ms 100]
"""

import argparse
import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GMAIL_COST = [
    (re.compile(r"^GET /gmail/v1/users/me/messages$"), 5, "messages.list"),
    (re.compile(r"^GET /gmail/v1/users/me/messages/[^/]+$"), 5, "messages.get"),
    (re.compile(r"^GET /gmail/v1/users/me/threads$"), 10, "threads.list"),
    (re.compile(r"^GET /gmail/v1/users/me/threads/[^/]+$"), 10, "threads.get"),
    (re.compile(r"^POST /gmail/v1/users/me/drafts$"), 10, "drafts.create"),
    (re.compile(r"^GET /gmail/v1/users/me/drafts$"), 5, "drafts.list"),
    (re.compile(r"^GET /gmail/v1/users/me/drafts/[^/]+$"), 5, "drafts.get"),
    (re.compile(r"^POST /gmail/v1/users/me/drafts/send$"), 100, "drafts.send"),
    (re.compile(r"^POST /gmail/v1/users/me/messages/send$"), 100, "messages.send"),
]


class Window:
    """Units spent in a rolling window."""

    def __init__(self, limit, seconds):
        self.limit, self.seconds = limit, seconds
        self.spent = deque()  # (time, units)
        self.total = 0

    def take(self, units, now):
        while self.spent and now - self.spent[0][0] >= self.seconds:
            self.total -= self.spent.popleft()[1]
        if self.total + units > self.limit:
            oldest = self.spent[0][0] if self.spent else now
            return max(1, int(oldest + self.seconds - now + 0.999))
        self.spent.append((now, units))
        self.total += units
        return 0


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.latency = args.latency_ms / 1000
        self.hubspot = Window(args.hubspot_limit, 10.0)
        self.search = Window(5, 1.0)
        self.gmail = Window(args.gmail_units, 1.0)
        self.stats = {}
        self.next_id = 1000

    def count(self, vendor, op, units, limited, now):
        s = self.stats.setdefault(vendor, {"calls": 0, "units": 0, "rate_limited": 0,
                                           "first": now, "last": now, "operations": {}})
        s["calls"] += 1
        s["last"] = now
        s["operations"][op] = s["operations"].get(op, 0) + 1
        if limited:
            s["rate_limited"] += 1
        else:
            s["units"] += units

    def ids(self, n):
        with self.lock:
            first = self.next_id
            self.next_id += n
        return [str(i) for i in range(first, first + n)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return {}

    def do_GET(self):
        self.handle_call("GET")

    def do_POST(self):
        self.handle_call("POST")

    def handle_call(self, method):
        state = self.server.state
        path = self.path.split("?")[0]
        body = self.body() if method == "POST" else {}
        if path == "/stats":
            with state.lock:
                return self.reply(200, state.stats)
        if path == "/reset":
            with state.lock:
                state.stats = {}
            return self.reply(200, {})
        now = time.monotonic()
        vendor, op, units, window, extra = "other", path, 1, None, None
        if path.startswith("/crm/") or path.startswith("/form-integrations/"):
            vendor, window = "hubspot", state.hubspot
            op = re.sub(r"/\d+", "/{id}", path)
            if path.endswith("/search"):
                extra = state.search
        elif path.startswith("/gmail/"):
            vendor, window = "gmail", state.gmail
            key = f"{method} {path}"
            for pattern, cost, name in GMAIL_COST:
                if pattern.match(key):
                    units, op = cost, name
                    break
        elif path == "/token":
            vendor, op = "google_oauth", "token"
        elif path.endswith("/freeBusy"):
            vendor, op = "google_calendar", "freebusy"
        with state.lock:
            wait = 0
            if extra is not None:
                wait = extra.take(1, now)
            if not wait and window is not None:
                wait = window.take(units, now)
            state.count(vendor, op, units, bool(wait), now)
        time.sleep(state.latency)
        if wait:
            if vendor == "hubspot":
                return self.reply(429, {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                                        "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"},
                                  {"retry-after": str(wait)})
            return self.reply(429, {"error": {"code": 429, "message": "User-rate limit exceeded.",
                                              "errors": [{"reason": "userRateLimitExceeded"}]}},
                              {"retry-after": str(wait)})
        self.answer(vendor, method, path, body)

    def answer(self, vendor, method, path, body):
        state = self.server.state
        inputs = body.get("inputs", []) if isinstance(body, dict) else []
        if path == "/token":
            return self.reply(200, {"access_token": "ya29.fake", "expires_in": 3599, "token_type": "Bearer"})
        if path.endswith("/freeBusy"):
            cal = (body.get("items") or [{"id": "primary"}])[0].get("id", "primary")
            return self.reply(200, {"kind": "calendar#freeBusy", "calendars": {cal: {"busy": []}}})
        if path == "/crm/v3/objects/contacts/batch/read":
            ids = [i.get("id") for i in inputs]
            return self.reply(207, {"status": "COMPLETE", "results": [], "numErrors": 1, "errors": [
                {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "not found", "context": {"ids": ids}}]})
        if path.endswith("/batch/upsert") or path.endswith("/batch/create"):
            ids = state.ids(len(inputs))
            results = [{"id": i, "new": True, "properties": inp.get("properties", {})} for i, inp in zip(ids, inputs)]
            return self.reply(201, {"status": "COMPLETE", "results": results})
        if path.startswith("/crm/v4/associations/") or path.endswith("/batch/read"):
            return self.reply(200, {"status": "COMPLETE", "results": []})
        if method == "GET" and re.match(r"^/crm/v4/objects/contacts/[^/]+/associations/", path):
            return self.reply(200, {"results": []})
        if path == "/gmail/v1/users/me/threads" and method == "GET":
            return self.reply(200, {"resultSizeEstimate": 0})
        if path == "/crm/v3/objects/contacts/search":
            return self.reply(200, {"total": 0, "results": []})
        if path.startswith("/crm/v3/objects/") and method == "POST":
            return self.reply(201, {"id": state.ids(1)[0], "properties": body.get("properties", {})})
        if path == "/gmail/v1/users/me/messages":
            return self.reply(200, {"resultSizeEstimate": 0})
        if path == "/gmail/v1/users/me/drafts" and method == "POST":
            i = state.ids(1)[0]
            return self.reply(200, {"id": f"r-{i}", "message": {"id": f"m-{i}", "threadId": f"t-{i}"}})
        if path == "/gmail/v1/users/me/drafts":
            return self.reply(200, {"resultSizeEstimate": 0})
        return self.reply(404, {"error": {"code": 404, "message": f"fake: no {method} {path}"}})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=9900)
    p.add_argument("--latency-ms", type=int, default=100)
    p.add_argument("--hubspot-limit", type=int, default=100, help="calls per rolling 10 s")
    p.add_argument("--gmail-units", type=int, default=250, help="quota units per rolling second")
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 1024
    server.state = State(args)
    print(f"vendor fake on 127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
