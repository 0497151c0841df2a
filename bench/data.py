"""Benchmark data: a key pair, distinct signed order tokens of realistic size, a grown database."""
from __future__ import annotations

import copy
import json
import sqlite3
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bridge.wix import events as wix_events
from bridge.wix.sandbox import order_event, sample_order, sign_webhook

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "samples" / "order_created.json"
INSTANCE = "bench-instance"
SITES = 50  # orders come from many Wix sites: Wix allows 200 calls a minute per site


class Keys:
    def __init__(self):
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        self.public_pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def template() -> dict:
    """The captured sample order the tests carry, else the sandbox's."""
    if SAMPLE.exists():
        return json.loads(SAMPLE.read_text())["parsed_domain_event"]["createdEvent"]["entity"]
    return sample_order()


def new_order(base: dict) -> dict:
    order = copy.deepcopy(base)
    order["id"] = str(uuid.uuid4())
    order["number"] = str(uuid.uuid4().int % 10**8)
    order["status"] = "APPROVED"
    return order


def site(n: int) -> str:
    return f"{INSTANCE}-{n}"


def _sign_batch(args: tuple[bytes, int, int, int]) -> list[tuple[str, str]]:
    pem, start, count, sites = args
    key = serialization.load_pem_private_key(pem, password=None)
    base = template()
    out = []
    for n in range(start, start + count):
        order = new_order(base)
        out.append((order["id"], sign_webhook(key, wix_events.ORDER_CREATED, site(n % sites),
                                              order_event(order))))
    return out


def orders_with_tokens(keys: Keys, count: int, sites: int = SITES) -> list[tuple[str, str]]:
    """(order id, signed order_created token) pairs, signed on every core; the order at index
    i comes from site(i % sites)."""
    workers = 2
    shares = [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
    starts = [sum(shares[:i]) for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        batches = pool.map(_sign_batch, [(keys.private_pem, start, n, sites)
                                         for start, n in zip(starts, shares) if n])
    return [pair for batch in batches for pair in batch]


def write_tokens(path: Path, keys: Keys, count: int) -> int:
    pairs = orders_with_tokens(keys, count)
    path.write_text("".join(token + "\n" for _, token in pairs))
    return len(pairs)


def token_bytes(path: Path) -> int:
    with path.open() as f:
        return len(f.readline().strip())


def restaurant_fulfillment() -> list[dict]:
    """The Pending fulfillment Wix Restaurants creates, covering the template's restaurant items."""
    from bridge.domain.orders import restaurant_items
    items = restaurant_items(template())
    return [{"id": "f-bench", "status": "Pending",
             "lineItems": [{"id": li["id"], "quantity": li["quantity"]} for li in items]}]


def prefill(database_url: str, count: int) -> None:
    """Store `count` orders as the bridge leaves them once sent: event, order, jobs, attempts.

    SQLite or PostgreSQL: the statements are written with `?` and rewritten for psycopg."""
    base = template()
    sqlite = database_url.startswith("sqlite:///")
    if sqlite:
        conn = sqlite3.connect(database_url[len("sqlite:///"):])
        conn.execute("PRAGMA journal_mode=WAL")
        sql = str
    else:
        import psycopg
        conn = psycopg.connect(database_url)

        def sql(statement: str) -> str:
            return statement.replace("?", "%s")

    def atomic():
        """A transaction: sqlite3's connection is one as a context, psycopg's would close."""
        return conn if sqlite else conn.transaction()
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime(now - 86400))
    batch = 5000
    for start in range(0, count, batch):
        events, orders, jobs = [], [], []
        for n in range(start, min(count, start + batch)):
            order = new_order(base)
            snapshot = json.dumps(order, separators=(",", ":"))
            event_id = str(uuid.uuid4())
            events.append((event_id, INSTANCE, wix_events.ORDER_CREATED, order["id"], 1,
                           stamp, stamp, snapshot, order["id"]))
            orders.append((order["id"], INSTANCE, order["number"], "sent", "APPROVED", 1,
                           snapshot, "webhook", f"P-grown-{n}", stamp, stamp))
            for kind, key, lane in (("process_event", f"event:{event_id}", f"events:{order['id']}"),
                                    ("send_order", f"send:{order['id']}", f"pos:{order['id']}")):
                jobs.append((kind, key, lane, INSTANCE, order["id"], "{}", "done", 1, now - 86400,
                             stamp, stamp))
        with atomic():
            cursor = conn.cursor()
            cursor.executemany(sql(
                "INSERT INTO events (id, instance_id, event_type, entity_id, sequence, event_time,"
                " received_at, payload, order_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"), events)
            cursor.executemany(sql(
                "INSERT INTO orders (wix_order_id, instance_id, number, state, wix_status,"
                " sequence, snapshot, pos_client, pos_order_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"), orders)
            ids = []
            for job in jobs:
                cursor.execute(sql(
                    "INSERT INTO jobs (kind, key, lane, instance_id, order_id, payload, state,"
                    " attempts, not_before, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"), job)
                ids.append(cursor.fetchone()[0])
            cursor.executemany(sql(
                "INSERT INTO attempts (job_id, order_id, worker, started_at, finished_at, outcome)"
                " VALUES (?, ?, 'bench', ?, ?, 'done')"),
                [(job_id, job[4], stamp, stamp) for job_id, job in zip(ids, jobs, strict=True)])
    # These events were processed long ago: the worker is not to take them again.
    with atomic():
        conn.execute("UPDATE inbox SET last_rowid = (SELECT max(rowid) FROM events)" if sqlite
                     else "UPDATE events SET taken = true")
    if sqlite:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    else:  # settled as a database that grew over months would be: vacuumed, checkpointed
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
    conn.close()
