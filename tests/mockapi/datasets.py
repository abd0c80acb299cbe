"""Data for the local Mixpeek API: the Store and the three data sets.

This module owns the data the mock server (server.py) serves: buckets,
storage connections and the sync configurations of each bucket, built from
seeded random.Random generators (no wall clock), so every run yields the same
objects. The Store answers the ground-truth questions the server and the tests
ask (in the API's order: newest first) and offers the mutations tests use to
change the data while a client is reading (add_sync, update_sync, delete_sync),
and churn: Store.churn_step(bucket_id, rng), or Churn(store, bucket_id, seed)
.step(), a deterministic step of status flips, resizes across 4 KiB, moves to
another connection, creates and deletes.

Stored objects are never modified in place: update_sync replaces the dict, so an
object handed out earlier stays a consistent snapshot. Callers must not mutate
what they get back.

Data sets (load(name)):
  small  namespace ns_demo/demo; bkt_marketing (60 syncs, every status),
         bkt_support (7), bkt_empty (0); five connections, one unused.
  large  the same namespace and connections; bkt_1k, bkt_10k, bkt_12k.
  weird  bkt_weird (ids that need escaping, missing and odd timestamps, items
         without sync_config_id), bkt/slash (2 syncs), connection conn/odd.
  many   16 buckets of 6,000 syncs (bkt_m00..bkt_m15).
  long   ids longer than a file name may be: a bucket id of 309 characters
         (LONG_BUCKET) with syncs whose ids are 251 and 400 characters, 100
         '%' signs, 200 two-byte characters, and two of 300 that differ only
         at the end, beside 4 short ones; one uses a connection whose id
         is 300 characters (LONG_CONN).
  heavy  the same namespace and connections; bkt_heavy: 12,345 syncs of at
         least 2,048 bytes of compact JSON each (2.14 KB on average, a page
         of 1,000 2.1 MB; 2.9 KB pretty-printed), nested as the schema
         allows: file_filters with pattern and MIME lists, schema_mapping
         with 3-6 mappings and their sources, metadata of a few keys.
"""

import bisect
import datetime
import json
import random
import threading
import time

NAMESPACE_ID = "ns_demo"
NAMESPACE_NAME = "demo"
INTERNAL_ID = "int_7f3c2a9e1b5d4c8f0a6e2b1d"
DATASETS = ("small", "large", "weird", "many", "heavy", "long")

STATUSES = ("PENDING", "IN_PROGRESS", "PROCESSING", "COMPLETED",
            "COMPLETED_WITH_ERRORS", "FAILED", "CANCELED", "UNKNOWN",
            "SKIPPED", "DRAFT", "ACTIVE", "ARCHIVED", "SUSPENDED")
PROVIDERS = ("google_drive", "s3", "snowflake", "sharepoint", "tigris",
             "postgresql")
USED_CONNECTIONS = ("conn_s3_prod", "conn_gdrive_mkt", "conn_sharepoint_hr",
                    "conn_tigris_arch")

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_STATUS_WEIGHTS = (8, 6, 6, 20, 6, 8, 3, 1, 2, 4, 30, 3, 3)
_RUNNING = {"PENDING", "IN_PROGRESS", "PROCESSING", "ACTIVE"}
_WITH_ERROR = {"FAILED", "COMPLETED_WITH_ERRORS"}
_USERS = ("usr_34bbf6ded1b749", "usr_9c1e52aa07f3d2", "usr_e8a41b0c6d5f93")
_ERRORS = {
    "conn_s3_prod": "AccessDenied: s3:ListBucket on arn:aws:s3:::acme-raw",
    "conn_gdrive_mkt": "Permission denied: Unable to access shared drive 0AFx3kQ9mB2pUk9PVA",
    "conn_sharepoint_hr": "Throttled: Microsoft Graph returned 429 Too Many Requests after 5 retries",
    "conn_tigris_arch": "SignatureDoesNotMatch: the request signature we calculated does not match",
    "conn/odd": "Network timeout: Failed to connect to s3.eu-west-1.amazonaws.com",
}
_SOURCES = {
    "conn_s3_prod": ("acme-raw/marketing/2025/", "acme-raw/campaigns/q{n}/", "acme-raw/video/{n}/"),
    "conn_gdrive_mkt": ("1AbCdEfGhIjKlMnOpQrStUv{n}", "0AFx3kQ9mB2pUk9PVA"),
    "conn_sharepoint_hr": ("/sites/HR/Shared Documents/Policies", "/sites/HR/Shared Documents/Onboarding {n}"),
    "conn_tigris_arch": ("acme-archive/support/tickets/", "acme-archive/exports/{n}/"),
    "conn/odd": ("odd-bucket/with spaces/{n}/",),
}


# ---------------------------------------------------------------- timestamps

def iso_ms(ms):
    """Epoch milliseconds -> '2025-03-14T09:26:53.589000Z' (the API's usual form)."""
    sec, frac = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%03d000Z" % frac


def parse_ts(value):
    """ISO 8601 string -> epoch microseconds (no zone = UTC); None if absent/unparseable."""
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    d = dt - _EPOCH
    return (d.days * 86400 + d.seconds) * 1000000 + d.microseconds


def _ms(text):
    return parse_ts(text) // 1000


def sort_key(obj, id_field, seq):
    """The API order as a tuple, sorted descending: newest created_at first,
    then id descending, items without created_at last; seq (insertion number)
    makes the order total."""
    ts = parse_ts(obj.get("created_at"))
    ident = obj.get(id_field)
    return (0 if ts is None else 1, ts or 0, ident if isinstance(ident, str) else "", seq)


# ---------------------------------------------------------------- generators

def _rid(rng, n):
    return "".join(rng.choices(_ALNUM, k=n))


def _make_sync(rng, sync_id, bucket_id, conn_id, created_ms, status, is_active):
    """One realistic SyncConfigurationModel, keys in the API's order."""
    updated_ms = created_ms + rng.randrange(0, 30 * 86400000)
    discovered = rng.randrange(0, 50000)
    failed = min(discovered, rng.randrange(1, 400)) if status in _WITH_ERROR else 0
    synced = rng.randrange(0, discovered - failed + 1)
    mode = "continuous" if rng.random() < 0.75 else "initial_only"
    poll = rng.choice((30, 60, 300, 600, 900))
    ran = status not in ("PENDING", "DRAFT")
    paused = status == "SUSPENDED"
    filters = None
    if rng.random() < 0.5:
        filters = {"include_patterns": rng.choice((["*.mp4", "*.mov"], ["*.pdf"], ["**/*.jpg", "**/*.png"])),
                   "exclude_patterns": rng.choice((None, ["**/tmp/**"], [".*"])),
                   "min_size_bytes": rng.choice((None, 0, 1024)),
                   "max_size_bytes": rng.choice((None, 5368709120)),
                   "modified_after": rng.choice((None, "2024-01-01T00:00:00Z")),
                   "modified_before": None,
                   "mime_types": rng.choice((None, ["video/mp4"], ["application/pdf"]))}
    source = rng.choice(_SOURCES.get(conn_id, ("data/{n}/",))).format(n=rng.randrange(1, 5))
    return {
        "sync_config_id": sync_id,
        "bucket_id": bucket_id,
        "connection_id": conn_id,
        "internal_id": INTERNAL_ID,
        "namespace_id": NAMESPACE_ID,
        "source_path": source,
        "file_filters": filters,
        "schema_mapping": None,
        "sync_mode": mode,
        "polling_interval_seconds": poll,
        "batch_size": rng.choice((10, 25, 50, 100)),
        "create_object_on_confirm": rng.random() < 0.8,
        "skip_duplicates": rng.random() < 0.9,
        "skip_batch_submission": rng.random() < 0.1,
        "status": status,
        "is_active": is_active,
        "total_files_discovered": discovered,
        "total_files_synced": synced,
        "total_files_failed": failed,
        "total_bytes_synced": synced * rng.randrange(20000, 8000000),
        "created_at": iso_ms(created_ms),
        "updated_at": iso_ms(updated_ms),
        "last_sync_at": iso_ms(updated_ms - rng.randrange(0, 3600000)) if ran else None,
        "next_sync_at": iso_ms(updated_ms + poll * 1000) if mode == "continuous" and is_active else None,
        "created_by_user_id": rng.choice(_USERS),
        "last_error": _ERRORS.get(conn_id, "Internal error") if status in _WITH_ERROR else None,
        "consecutive_failures": rng.randrange(1, 8) if status == "FAILED" else 0,
        "metadata": {} if rng.random() < 0.6 else {"team": rng.choice(("marketing", "support", "hr")),
                                                   "cost_center": "CC-%04d" % rng.randrange(1000, 10000)},
        "paused": paused,
        "pause_reason": "Paused by user during storage migration" if paused else None,
        "paused_at": iso_ms(updated_ms) if paused else None,
        "max_objects_per_run": 100000,
        "batch_chunk_size": rng.choice((50, 100, 250)),
        "sync_run_counter": rng.randrange(1, 500) if ran else 0,
        "batch_ids": ["btch_" + _rid(rng, 12) for _ in range(rng.randrange(0, 3))] if ran else [],
        "task_ids": ["task_" + _rid(rng, 12) for _ in range(rng.randrange(0, 3))] if ran else [],
    }


def _random_status(rng):
    return rng.choices(STATUSES, weights=_STATUS_WEIGHTS)[0]


def _random_active(rng, status):
    return rng.random() < (0.9 if status in _RUNNING else 0.5 if status == "FAILED" else 0.15)


def _gen_syncs(rng, bucket_id, n, start_ms, statuses=None, connections=USED_CONNECTIONS):
    """n syncs created one after another from start_ms (a few share a created_at)."""
    out, seen, t = [], set(), start_ms
    for i in range(n):
        t += 0 if rng.random() < 0.03 else rng.randrange(1000, 6 * 3600000)
        sid = "sync_" + _rid(rng, 15)
        while sid in seen:
            sid = "sync_" + _rid(rng, 15)
        seen.add(sid)
        status = statuses[i] if statuses else _random_status(rng)
        out.append(_make_sync(rng, sid, bucket_id, connections[i % len(connections)], t,
                              status, _random_active(rng, status)))
    return out


def _bucket(bid, name, description, created, n_objects, size):
    return {
        "bucket_id": bid,
        "bucket_name": name,
        "description": description,
        "bucket_schema": {"properties": {"title": {"type": "string", "required": True},
                                         "asset": {"type": "video"},
                                         "tags": {"type": "array", "items": {"type": "string"}}}},
        "unique_key": None,
        "metadata": {"owner": "platform-team"},
        "object_count": n_objects,
        "total_size_bytes": size,
        "created_at": created,
        "updated_at": created,
        "last_upload_at": None if n_objects == 0 else created,
        "status": "ACTIVE",
        "is_locked": False,
        "batch_stats": {"total": n_objects // 50, "active": 0, "completed": n_objects // 50, "failed": 0},
        "storage_stats": {"total_size_bytes": size, "avg_size_bytes": size // n_objects if n_objects else 0,
                          "max_size_bytes": size // 10, "min_size_bytes": 1024 if n_objects else 0},
    }


def _connection(cid, name, ptype, config, created, status="ACTIVE", last_error=None, metadata=None):
    return {
        "connection_id": cid,
        "internal_id": INTERNAL_ID,
        "provider_type": ptype,
        "provider_config": config,
        "name": name,
        "description": None,
        "status": status,
        "is_active": status == "ACTIVE",
        "last_used_at": None if status != "ACTIVE" else created,
        "last_error": last_error,
        "consecutive_failures": 3 if last_error else 0,
        "created_at": created,
        "updated_at": created,
        "created_by_user_id": _USERS[0],
        "metadata": metadata or {},
    }


def _s3_config(region="us-east-1"):
    return {"provider_type": "s3",
            "credentials": {"type": "iam_role", "role_arn": "arn:aws:iam::123456789012:role/mixpeek-sync",
                            "external_id": "mixpeek-org_7f3c2a9e"},
            "region": region, "endpoint_url": None, "use_ssl": True, "verify_ssl": True}


def _connections(extra=()):
    conns = [
        _connection("conn_s3_prod", "Production S3 Bucket", "s3", _s3_config(),
                    "2024-11-04T15:02:11.208000Z", metadata={"environment": "production"}),
        _connection("conn_gdrive_mkt", "Marketing Google Drive", "google_drive",
                    {"provider_type": "google_drive",
                     "credentials": {"type": "service_account", "project_id": "acme-media",
                                     "private_key_id": "redacted", "private_key": "***redacted***",
                                     "client_email": "mixpeek-sync@acme-media.iam.gserviceaccount.com",
                                     "client_id": "104857392018475629301"},
                     "shared_drive_id": "0AFx3kQ9mB2pUk9PVA", "impersonate_user": None},
                    "2024-11-18T09:45:00.000000Z", metadata={"team": "marketing", "cost_center": "CC-1234"}),
        _connection("conn_sharepoint_hr", "HR SharePoint", "sharepoint",
                    {"provider_type": "sharepoint",
                     "credentials": {"type": "client_credentials",
                                     "tenant_id": "8c2f0e4a-51d3-4b7e-9a06-2f1d3c4b5a69",
                                     "client_id": "d41f7a2c-0b9e-4c3d-8e15-7a6b5c4d3e2f",
                                     "client_secret": "***redacted***"},
                     "site_id": "acme.sharepoint.com,hr", "drive_id": None, "folder_path": "/Shared Documents"},
                    "2024-12-02T11:20:37.441000Z"),
        _connection("conn_tigris_arch", "Customer Assets Archive", "tigris",
                    {"provider_type": "tigris",
                     "credentials": {"type": "access_key", "access_key_id": "tid_redacted",
                                     "secret_access_key": "***redacted***"},
                     "region": "auto", "endpoint_url": "https://fly.storage.tigris.dev"},
                    "2025-01-09T08:00:00.000000Z"),
        _connection("conn_unused", "Old Sandbox Bucket", "s3", _s3_config("eu-west-1"),
                    "2024-06-30T17:13:52.907000Z", status="SUSPENDED",
                    last_error="Authentication failed: Invalid credentials"),
    ]
    return conns + list(extra)


# ---------------------------------------------------------------- the store

class Store:
    """Buckets, connections and per-bucket syncs of one data set; thread-safe.

    Each bucket keeps its syncs in insertion order, an index by
    sync_config_id and (built on first use, then kept up to date) the list
    in API order, so a change costs about O(log n) and a listing does not
    sort the bucket again."""

    def __init__(self, name, buckets, connections, syncs,
                 namespace_id=NAMESPACE_ID, namespace_name=NAMESPACE_NAME):
        self.name = name
        self.namespace_id = namespace_id
        self.namespace_name = namespace_name
        self._lock = threading.RLock()
        self._rng = random.Random("add:" + name)
        self._buckets = list(buckets)
        self._connections = list(connections)
        self._seq = 0
        self._added = 0
        self._clock_ms = 0  # latest timestamp handed out by add_sync/update_sync
        self._items = {b["bucket_id"]: {} for b in self._buckets}  # bucket_id -> {seq: obj}, insertion order
        self._ids = {b["bucket_id"]: {} for b in self._buckets}  # bucket_id -> {sync id: [seq, ...]}
        self._sorted = {}  # bucket_id -> [(sort key, obj)] ascending (API order reversed), once built
        self._latest = {}  # bucket_id -> latest created_at/updated_at ms of its syncs, once computed
        self._churn_base = {}  # bucket_id -> its size when churn_step first ran on it
        for bucket_id, objs in syncs.items():
            for obj in objs:
                self._insert(bucket_id, obj)

    # -- lookups
    def has_namespace(self, value):
        return value in (self.namespace_id, self.namespace_name)

    def buckets(self):
        with self._lock:
            return list(self._buckets)

    def _find(self, items, fields, ident):
        """The first of items whose fields[0] is ident, else fields[1]..."""
        with self._lock:
            for field in fields:
                for item in items:
                    if item.get(field) == ident:
                        return item
        return None

    def bucket(self, ident):
        """Bucket by bucket_id, else by bucket_name; None if unknown."""
        return self._find(self._buckets, ("bucket_id", "bucket_name"), ident)

    def connection(self, ident):
        """Connection by connection_id, else by name; None if unknown."""
        return self._find(self._connections, ("connection_id", "name"), ident)

    def connection_entries(self, provider_type=None, status=None, is_active=None):
        """[(sort key, connection)] in API order, filtered (ANDed)."""
        with self._lock:
            entries = [(sort_key(c, "connection_id", i), c) for i, c in enumerate(self._connections)]
        entries.sort(key=lambda e: e[0], reverse=True)
        return [e for e in entries
                if (provider_type is None or e[1].get("provider_type") == provider_type)
                and _match(e[1], status, None, is_active)]

    def connections(self, provider_type=None, status=None, is_active=None):
        return [c for _, c in self.connection_entries(provider_type, status, is_active)]

    def sync_entries(self, bucket_id, status=None, connection_id=None, is_active=None):
        """[(sort key, sync)] of a bucket in API order, filtered (ANDed).
        KeyError for an unknown bucket_id."""
        with self._lock:
            entries = self._ascending(bucket_id)[::-1]
        if status is None and connection_id is None and is_active is None:
            return entries
        return [e for e in entries if _match(e[1], status, connection_id, is_active)]

    def syncs(self, bucket_id, status=None, connection_id=None, is_active=None):
        """The ground truth: a bucket's syncs in API order (status in any case)."""
        return [o for _, o in self.sync_entries(bucket_id, status, connection_id, is_active)]

    def sync(self, bucket_id, sync_id):
        """One sync by sync_config_id, or None; KeyError for an unknown bucket_id."""
        with self._lock:
            items = self._items[bucket_id]
            seqs = self._ids[bucket_id].get(sync_id)
            return items[seqs[0]] if seqs else None

    # -- mutations (tests)
    def add_sync(self, bucket_id, obj=None):
        """Add a sync newer than every existing one (created_at and updated_at
        later than all in the bucket). obj, if given, is laid over a generated
        sync (its created_at/updated_at win if present). Returns the new object."""
        with self._lock:
            items = self._items[bucket_id]  # KeyError for an unknown bucket
            ms = self._newer_ms(bucket_id)
            self._added += 1
            sid = "sync_added%05d" % self._added
            conn = next(iter(items.values()))["connection_id"] if items else USED_CONNECTIONS[0]
            new = _make_sync(self._rng, sid, bucket_id, conn, ms, "PENDING", True)
            new["updated_at"] = new["created_at"]
            new["last_sync_at"] = None
            new.update(obj or {})
            self._insert(bucket_id, new)
            return new

    def add_bucket(self, bucket):
        """Add a bucket (a BucketResponse dict) without syncs."""
        with self._lock:
            self._buckets.append(bucket)
            self._items.setdefault(bucket["bucket_id"], {})
            self._ids.setdefault(bucket["bucket_id"], {})

    def update_sync(self, bucket_id, sync_id, **fields):
        """Replace a sync by a copy with fields changed and updated_at bumped
        past every timestamp in the bucket (unless given). Returns the new object."""
        with self._lock:
            seqs = self._ids[bucket_id].get(sync_id)
            if not seqs:
                raise KeyError(sync_id)
            fields = dict({"updated_at": iso_ms(self._newer_ms(bucket_id))}, **fields)
            return self._replace(bucket_id, seqs[0], fields)

    def delete_sync(self, bucket_id, sync_id):
        """Remove a sync; returns it. KeyError if unknown."""
        with self._lock:
            seqs = self._ids[bucket_id].get(sync_id)
            if not seqs:
                raise KeyError(sync_id)
            return self._remove(bucket_id, seqs[0])

    # -- churn: the data changing while a client reads it
    def churn_step(self, bucket_id, rng, counts=None):
        """One step of churn on a bucket, synchronous and deterministic: the
        same store state and rng state give the same changes. A step makes 1
        to 3 changes, each chosen by rng (see CHURN_COUNTS):
          status_flips  a sync gets another status (is_active, paused,
                        last_error, next_sync_at... made consistent with it);
          resizes       a sync's metadata gets a "padding" string that makes
                        its pretty-printed JSON 5,000-9,300 bytes (later
                        flips may add a few dozen), or loses it
                        (back to 1-2 KB): its size crosses 4 KiB boundaries;
          moves         a sync moves to another of USED_CONNECTIONS (its
                        source_path and last_error follow);
          creates       a new sync, newest of all (the head of the listing);
          deletes       a sync goes.
        Creates and deletes keep the bucket within 2 of its size when
        churn first ran on it, never below half of it. Half of the picks are
        among the 50 newest syncs (the first pages), half anywhere. Every
        changed sync gets an updated_at newer than every timestamp in the
        bucket. counts (a dict with CHURN_COUNTS keys), if given, is added
        to. Returns the changes: [(count name, sync id)]."""
        with self._lock:
            items = self._items[bucket_id]
            base = self._churn_base.setdefault(bucket_id, len(items))
            targets = [c for c in USED_CONNECTIONS if self.connection(c) is not None] or [USED_CONNECTIONS[0]]
            done = []
            for _ in range(rng.randint(1, 3)):
                op = rng.choices(_CHURN_OPS, weights=_CHURN_WEIGHTS)[0]
                if op == "member" or not items:
                    n, floor = len(items), base // 2
                    if n <= floor or n <= base - 2:
                        op = "creates"
                    elif n >= base + 2:
                        op = "deletes"
                    else:
                        op = "deletes" if rng.random() < 0.5 else "creates"
                if op == "creates":
                    obj = self._churn_create(bucket_id, rng, targets)
                else:
                    seq, old = self._churn_pick(bucket_id, rng)
                    if op == "deletes":
                        obj = self._remove(bucket_id, seq)
                    else:
                        ms = self._newer_ms(bucket_id)
                        if op == "status_flips":
                            fields = _status_fields(rng, old, rng.choice([s for s in STATUSES
                                                                          if s != old.get("status")]), ms)
                        elif op == "resizes":
                            fields = _resize_fields(rng, old, ms)
                        else:
                            fields = _move_fields(rng, old, rng.choice([c for c in targets
                                                                        if c != old.get("connection_id")]
                                                                       or targets), ms)
                        obj = self._replace(bucket_id, seq, fields)
                done.append((op, obj.get("sync_config_id")))
                if counts is not None:
                    counts[op] = counts.get(op, 0) + 1
            if counts is not None:
                counts["steps"] = counts.get("steps", 0) + 1
            return done

    def _churn_pick(self, bucket_id, rng):
        """(seq, obj) of a sync: half of the time among the 50 newest."""
        asc = self._ascending(bucket_id)
        n = len(asc)
        i = n - 1 - rng.randrange(min(n, 50)) if rng.random() < 0.5 else rng.randrange(n)
        key, obj = asc[i]
        return key[3], obj

    def _churn_create(self, bucket_id, rng, targets):
        ids = self._ids[bucket_id]
        sid = "sync_" + _rid(rng, 15)
        while sid in ids:
            sid = "sync_" + _rid(rng, 15)
        ms = self._newer_ms(bucket_id)
        status = _random_status(rng)
        new = _make_sync(rng, sid, bucket_id, rng.choice(targets), ms, status, _random_active(rng, status))
        new.update(_status_fields(rng, new, status, ms, new["is_active"]))
        self._insert(bucket_id, new)
        return new

    # -- internals
    def _insert(self, bucket_id, obj):
        self._seq += 1
        seq = self._seq
        self._items[bucket_id][seq] = obj
        self._ids[bucket_id].setdefault(obj.get("sync_config_id"), []).append(seq)
        asc = self._sorted.get(bucket_id)
        if asc is not None:
            bisect.insort(asc, (sort_key(obj, "sync_config_id", seq), obj), key=_first)
        self._note_times(bucket_id, obj)

    def _replace(self, bucket_id, seq, fields):
        """Replace the sync numbered seq by a copy with fields changed."""
        items = self._items[bucket_id]
        old = items[seq]
        new = dict(old)
        new.update(fields)
        items[seq] = new
        old_id, new_id = old.get("sync_config_id"), new.get("sync_config_id")
        if old_id != new_id:
            self._unindex(bucket_id, old_id, seq)
            bisect.insort(self._ids[bucket_id].setdefault(new_id, []), seq)
        asc = self._sorted.get(bucket_id)
        if asc is not None:
            old_key = sort_key(old, "sync_config_id", seq)
            del asc[bisect.bisect_left(asc, old_key, key=_first)]
            bisect.insort(asc, (sort_key(new, "sync_config_id", seq), new), key=_first)
        self._note_times(bucket_id, new)
        return new

    def _remove(self, bucket_id, seq):
        obj = self._items[bucket_id].pop(seq)
        self._unindex(bucket_id, obj.get("sync_config_id"), seq)
        asc = self._sorted.get(bucket_id)
        if asc is not None:
            del asc[bisect.bisect_left(asc, sort_key(obj, "sync_config_id", seq), key=_first)]
        return obj

    def _unindex(self, bucket_id, sync_id, seq):
        ids = self._ids[bucket_id]
        seqs = ids[sync_id]
        seqs.remove(seq)
        if not seqs:
            del ids[sync_id]

    def _ascending(self, bucket_id):
        """The bucket's [(sort key, obj)], oldest first; built on first use."""
        asc = self._sorted.get(bucket_id)
        if asc is None:
            asc = [(sort_key(o, "sync_config_id", seq), o) for seq, o in self._items[bucket_id].items()]
            asc.sort(key=_first)
            self._sorted[bucket_id] = asc
        return asc

    def _note_times(self, bucket_id, obj):
        latest = self._latest.get(bucket_id)
        if latest is not None:
            self._latest[bucket_id] = max(latest, _obj_latest_ms(obj))

    def _newer_ms(self, bucket_id):
        latest = self._latest.get(bucket_id)
        if latest is None:
            latest = max((_obj_latest_ms(o) for o in self._items[bucket_id].values()), default=0)
            self._latest[bucket_id] = latest
        self._clock_ms = max(self._clock_ms, latest) + 1000
        return self._clock_ms


CHURN_COUNTS = ("steps", "status_flips", "resizes", "deletes", "creates", "moves")
_CHURN_OPS = ("status_flips", "resizes", "moves", "member")
_CHURN_WEIGHTS = (4, 3, 2, 3)
_PAD_MIN, _PAD_MAX = 5000, 9300
_FILLER = ("Padding that makes this sync configuration's JSON larger than 4 KiB, so a reader "
           "sees its size cross page boundaries while the data churns. ")


def _first(entry):
    return entry[0]


def _obj_latest_ms(obj):
    latest = 0
    for field in ("created_at", "updated_at"):
        us = parse_ts(obj.get(field))
        if us is not None and us // 1000 > latest:
            latest = us // 1000
    return latest


def pretty_size(obj):
    """Bytes of json.dumps(obj, indent=2, ensure_ascii=False) + "\\n" in UTF-8."""
    return len((json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def _status_fields(rng, obj, status, ms, active=None):
    """The fields of obj that change when its status becomes status at ms,
    kept consistent the way _make_sync makes them."""
    if active is None:
        active = _random_active(rng, status)
    paused = status == "SUSPENDED"
    ran = status not in ("PENDING", "DRAFT")
    discovered = obj.get("total_files_discovered") or 0
    failed = obj.get("total_files_failed") or 0
    if status in _WITH_ERROR:
        failed = failed or min(discovered, rng.randrange(1, 400))
    else:
        failed = 0
    continuous = obj.get("sync_mode") == "continuous"
    return {
        "status": status,
        "is_active": active,
        "total_files_failed": failed,
        "total_files_synced": min(obj.get("total_files_synced") or 0, discovered - failed),
        "updated_at": iso_ms(ms),
        "last_sync_at": iso_ms(ms) if ran else None,
        "next_sync_at": (iso_ms(ms + int(obj.get("polling_interval_seconds") or 300) * 1000)
                         if continuous and active else None),
        "last_error": _ERRORS.get(obj.get("connection_id"), "Internal error") if status in _WITH_ERROR else None,
        "consecutive_failures": rng.randrange(1, 8) if status == "FAILED" else 0,
        "paused": paused,
        "pause_reason": "Paused by user during storage migration" if paused else None,
        "paused_at": iso_ms(ms) if paused else None,
    }


def _resize_fields(rng, obj, ms):
    """metadata with a padding that makes obj 5,000-9,300 bytes pretty-printed,
    or (most of the time when it is padded already) without it."""
    metadata = dict(obj.get("metadata") or {})
    padded = "padding" in metadata
    metadata.pop("padding", None)
    fields = {"updated_at": iso_ms(ms), "metadata": metadata}
    if padded and rng.random() < 0.7:
        return fields
    target = rng.randrange(_PAD_MIN, _PAD_MAX)
    metadata["padding"] = ""
    need = target - pretty_size(dict(obj, **fields))
    metadata["padding"] = (_FILLER * (need // len(_FILLER) + 1))[:max(need, 0)]
    return fields


def _move_fields(rng, obj, conn, ms):
    fields = {"connection_id": conn, "updated_at": iso_ms(ms),
              "source_path": rng.choice(_SOURCES.get(conn, ("data/{n}/",))).format(n=rng.randrange(1, 5))}
    if obj.get("last_error") is not None and obj.get("status") in _WITH_ERROR:
        fields["last_error"] = _ERRORS.get(conn, "Internal error")
    return fields


class Churn:
    """Churn of one bucket of a store: an rng (random.Random(seed)) and the
    counts of what it changed. step() is Store.churn_step with them, so two
    stores of one data set stepped N times with one seed end up equal."""

    def __init__(self, store, bucket_id, seed=0):
        store.sync_entries(bucket_id)  # KeyError for an unknown bucket; builds its order
        self.store, self.bucket_id, self.seed = store, bucket_id, seed
        self.rng = random.Random(seed)
        self.counts = dict.fromkeys(CHURN_COUNTS, 0)

    def step(self):
        """One step; returns its changes [(count name, sync id)]."""
        return self.store.churn_step(self.bucket_id, self.rng, self.counts)

    def snapshot(self):
        """A copy of the counts, consistent with the store."""
        with self.store._lock:
            return dict(self.counts)


def _match(obj, status, connection_id, is_active):
    if status is not None and str(obj.get("status", "")).upper() != status.upper():
        return False
    if connection_id is not None and obj.get("connection_id") != connection_id:
        return False
    if is_active is not None and obj.get("is_active", True) is not is_active:
        return False
    return True


# ---------------------------------------------------------------- data sets

def _small():
    rng = random.Random("small")
    statuses = list(STATUSES) + ["FAILED"] * 4 + [_random_status(rng) for _ in range(43)]
    rng.shuffle(statuses)
    buckets = [
        _bucket("bkt_marketing", "marketing-assets", "Campaign videos and images",
                "2024-11-05T10:12:44.120000Z", 48213, 1893211455812),
        _bucket("bkt_support", "support-archive", "Support ticket attachments",
                "2024-12-01T08:30:00.000000Z", 1532, 2210045512),
        _bucket("bkt_empty", "empty-bucket", None, "2025-02-20T16:45:09.003000Z", 0, 0),
    ]
    syncs = {
        "bkt_marketing": _gen_syncs(rng, "bkt_marketing", 60, _ms("2025-01-06T08:00:00Z"), statuses),
        "bkt_support": _gen_syncs(rng, "bkt_support", 7, _ms("2025-02-03T09:00:00Z"),
                                  connections=("conn_s3_prod", "conn_tigris_arch")),
    }
    return Store("small", buckets, _connections(), syncs)


def _large():
    buckets, syncs = [], {}
    for bid, n in (("bkt_1k", 1000), ("bkt_10k", 10000), ("bkt_12k", 12345)):
        buckets.append(_bucket(bid, bid.replace("bkt_", "sizes-"), "%d sync configurations" % n,
                               "2024-10-01T00:00:00.000000Z", n * 40, n * 40 * 1048576))
        syncs[bid] = _gen_syncs(random.Random("large:" + bid), bid, n, _ms("2023-01-01T00:00:00Z"))
    return Store("large", buckets, _connections(), syncs)


# id, connection, created_at, updated_at (None = key absent)
_WEIRD = (
    ("sync/with/slash", "conn/odd", "2024-05-03T08:00:00.250000Z", "2024-05-03T09:00:00.250000Z"),
    ("100%done", "conn_s3_prod", "2024-05-03T07:00:00Z", "2024-05-03T07:30:00Z"),
    ("pct%2Fliteral", "conn_s3_prod", "2024-05-03T06:00:00Z", "2024-05-03T06:00:00Z"),
    (".", "conn_gdrive_mkt", "2024-05-02T23:59:59.999999Z", "2024-05-03T00:00:00Z"),
    ("..", "conn_gdrive_mkt", "2024-05-02T22:00:00.5Z", "2024-05-02T22:00:01.5Z"),
    ("tab\there", "conn_s3_prod", "2024-05-02T20:00:00+00:00", "2024-05-02T20:10:00+00:00"),
    ("del\x7fchar", "conn/odd", "2024-05-02T18:00:00.123+00:00", "2024-05-02T18:00:00.123+00:00"),
    ("nl\nname", "conn_tigris_arch", "2024-05-02T16:00:00-05:00", "2024-05-02T17:00:00-05:00"),
    ("ünïcödé-sync", "conn_sharepoint_hr", "2024-05-02T12:00:00.000Z", "2024-05-02T12:00:00.000Z"),
    ("space name", "conn/odd", "2024-05-02T10:00:00Z", "2024-05-02T11:00:00Z"),
    ("plus+sign", "conn_s3_prod", "2024-05-02T09:00:00Z", "2024-05-02T09:00:00Z"),
    ("sync_offset_zone", "conn_s3_prod", "2024-05-01T12:00:00+02:00", "2024-05-01T12:30:00+02:00"),
    ("sync_no_zone", "conn_s3_prod", "2024-05-01T10:00:00", "2024-05-01T10:30:00"),
    ("sync_no_updated", "conn_gdrive_mkt", "2024-04-30T09:00:00.000000Z", None),
    ("sync_no_times", "conn_gdrive_mkt", None, None),
    (None, "conn_s3_prod", "2024-04-29T09:00:00Z", "2024-04-29T09:00:00Z"),  # no sync_config_id key
    ("", "conn_s3_prod", "2024-04-28T09:00:00Z", "2024-04-28T09:00:00Z"),
)


def _weird():
    rng = random.Random("weird")
    odd = _connection("conn/odd", "Odd / Connection", "s3", _s3_config("eu-west-1"),
                      "2024-03-01T00:00:00Z")
    weird = []
    for i, (sid, conn, created, updated) in enumerate(_WEIRD):
        status = STATUSES[i % len(STATUSES)]
        obj = _make_sync(rng, sid, "bkt_weird", conn, _ms("2024-04-01T00:00:00Z"), status,
                         _random_active(rng, status))
        obj["created_at"], obj["updated_at"] = created, updated
        for field, value in (("sync_config_id", sid), ("created_at", created), ("updated_at", updated)):
            if value is None:
                del obj[field]
        weird.append(obj)
    normal = _gen_syncs(rng, "bkt_weird", 8, _ms("2024-04-01T00:00:00Z"),
                        connections=("conn_s3_prod", "conn/odd"))
    buckets = [
        _bucket("bkt_weird", "weird-bucket", "Names that need escaping", "2024-04-01T00:00:00Z", 10, 10485760),
        _bucket("bkt/slash", "slash-bucket", "A bucket id with a slash", "2024-04-02T00:00:00Z", 2, 2097152),
    ]
    syncs = {"bkt_weird": weird + normal,
             "bkt/slash": _gen_syncs(rng, "bkt/slash", 2, _ms("2024-04-05T00:00:00Z"))}
    return Store("weird", buckets, _connections([odd]), syncs)


def _many():
    """16 buckets of 6,000 syncs each (about 125 MB of JSON): a namespace
    larger than a cache of tens of MB."""
    buckets, syncs = [], {}
    for i in range(16):
        bid = "bkt_m%02d" % i
        buckets.append(_bucket(bid, "many-%02d" % i, "6,000 sync configurations",
                               "2024-10-01T00:00:00.000000Z", 240000, 240000 * 1048576))
        syncs[bid] = _gen_syncs(random.Random("many:" + bid), bid, 6000, _ms("2023-01-01T00:00:00Z"))
    return Store("many", buckets, _connections(), syncs)


# The heavy data set's parts: what real syncs of a media pipeline carry.
_HEAVY_INCLUDE = ("*.mp4", "*.mov", "*.mkv", "*.webm", "*.jpg", "*.jpeg", "*.png", "*.heic", "*.pdf",
                  "*.docx", "*.pptx", "*.wav", "*.mp3", "**/raw/**/*.mxf", "**/exports/*.csv")
_HEAVY_EXCLUDE = ("**/tmp/**", ".*", "**/~$*", "**/.DS_Store", "**/thumbs/**", "*_draft.*", "**/archive/2019/**")
_HEAVY_MIME = ("video/mp4", "video/quicktime", "video/x-matroska", "video/webm", "image/jpeg", "image/png",
               "image/heic", "application/pdf", "audio/wav", "audio/mpeg", "text/csv",
               "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
_HEAVY_FIELDS = ("category", "department", "campaign", "region", "capture_date", "author", "language",
                 "license", "product_line", "customer_segment")
_HEAVY_TEAMS = ("marketing", "support", "hr", "media-ops", "data-platform")
_HEAVY_NOTES = ("Synced for the {team} team from {source}; failures are reviewed each week and the "
                "mapping follows bucket schema v{v}. ")
HEAVY_MIN, HEAVY_MAX = 2048, 2176  # a heavy sync's compact JSON is padded to HEAVY_MIN..HEAVY_MAX-1 bytes


def _heavy_source(rng, name):
    """A schema mapping's source, of any kind the schema allows for a field."""
    kind = rng.choice(("tag", "metadata", "filename_regex", "column", "drive_property", "folder_path",
                       "constant"))
    if kind in ("tag", "metadata", "drive_property"):
        return {"type": kind, "key": rng.choice(("x-amz-meta-", "", "custom:")) + name}
    if kind == "filename_regex":
        return {"type": kind, "pattern": rng.choice((r"^(\d{4}-\d{2}-\d{2})_", r"_([A-Z]{2,3})_v\d+\.",
                                                     r"^([a-z]+)-\d+")),
                "default": rng.choice((None, "unknown"))}
    if kind == "column":
        return {"type": kind, "name": name.upper()}
    if kind == "folder_path":
        return {"type": kind, "segment": rng.randrange(0, 4), "full_path": rng.random() < 0.2}
    return {"type": kind, "value": rng.choice(("production-videos", "emea", 3, True))}


def _heavy_fields(rng, obj):
    """file_filters, schema_mapping and metadata for a heavy sync: nested as
    the schema allows, the metadata's notes sized so that the compact JSON
    takes at least HEAVY_MIN bytes: a size drawn from HEAVY_MIN..HEAVY_MAX-1,
    or more when the rest is larger already (a sixth of them)."""
    mappings = {"content": {"target_type": "blob", "source": {"type": "file"},
                            "blob_type": rng.choice(("auto", "video", "image", "pdf")),
                            "blob_property": "content", "mime_type_override": None}}
    if rng.random() < 0.4:
        mappings["thumbnail"] = {"target_type": "blob",
                                 "source": {"type": "metadata", "key": "x-amz-meta-thumbnail-url"},
                                 "blob_type": "image", "blob_property": "thumbnail",
                                 "mime_type_override": rng.choice((None, "image/jpeg"))}
    for name in rng.sample(_HEAVY_FIELDS, rng.randrange(2, 5)):
        mappings[name] = {"target_type": "field", "source": _heavy_source(rng, name),
                          "transform": rng.choice((None, "lowercase", "trim", "uppercase")),
                          "required": rng.random() < 0.3}
    team = rng.choice(_HEAVY_TEAMS)
    fields = {
        "file_filters": {"include_patterns": rng.sample(_HEAVY_INCLUDE, rng.randrange(2, 5)),
                         "exclude_patterns": rng.sample(_HEAVY_EXCLUDE, rng.randrange(1, 4)),
                         "min_size_bytes": rng.choice((0, 1024, 65536)),
                         "max_size_bytes": rng.choice((None, 5368709120, 21474836480)),
                         "modified_after": iso_ms(_ms("2023-06-01T00:00:00Z") + rng.randrange(0, 400) * 86400000),
                         "modified_before": rng.choice((None, "2026-01-01T00:00:00Z")),
                         "mime_types": rng.sample(_HEAVY_MIME, rng.randrange(2, 5))},
        "schema_mapping": {"mappings": mappings},
        "metadata": {"team": team, "cost_center": "CC-%04d" % rng.randrange(1000, 10000),
                     "owner": "%s.%s@acme.example" % (rng.choice(("ana", "bo", "chen", "dev", "eli")), team),
                     "labels": rng.sample(("priority", "pii", "legal-hold", "q3", "reprocess", "gdpr"),
                                          rng.randrange(1, 4)),
                     "notes": ""},
    }
    target = rng.randrange(HEAVY_MIN, HEAVY_MAX)
    need = target - len(json.dumps(dict(obj, **fields), ensure_ascii=False, separators=(",", ":")))
    text = _HEAVY_NOTES.format(team=team, source=obj["source_path"], v=rng.randrange(2, 9))
    fields["metadata"]["notes"] = (text * (max(need, 0) // len(text) + 1))[:max(need, 0)]
    return fields


def _heavy():
    """bkt_heavy: 12,345 syncs of about 2.1 KB of compact JSON each, nested
    (see _heavy_fields); everything from seeds, as the other data sets."""
    bid, n = "bkt_heavy", 12345
    syncs = _gen_syncs(random.Random("heavy:" + bid), bid, n, _ms("2023-01-01T00:00:00Z"))
    rng = random.Random("heavy-fields:" + bid)
    for obj in syncs:  # not in a store yet: changed in place, keys keep their order
        obj.update(_heavy_fields(rng, obj))
    bucket = _bucket(bid, "heavy-syncs", "%d nested sync configurations" % n,
                     "2024-10-01T00:00:00.000000Z", n * 40, n * 40 * 1048576)
    return Store("heavy", [bucket], _connections(), {bid: syncs})


LONG_BUCKET = "bkt_" + "b" * 305
LONG_CONN = "conn_" + "c" * 295
LONG_IDS = ("s" * 251, "sync_" + "x" * 395, "%" * 100, "sync_" + "é" * 200,
            "sync_" + "y" * 294 + "_1", "sync_" + "y" * 294 + "_2")


def _long():
    rng = random.Random("long")
    conn = _connection(LONG_CONN, "Long Connection", "s3", _s3_config(), "2024-06-01T00:00:00Z")
    syncs = []
    for i, sid in enumerate(LONG_IDS):
        status = STATUSES[i % len(STATUSES)]
        syncs.append(_make_sync(rng, sid, LONG_BUCKET, LONG_CONN if i == 1 else "conn_s3_prod",
                                _ms("2024-06-02T00:00:00Z") + i * 1000, status, _random_active(rng, status)))
    syncs += _gen_syncs(rng, LONG_BUCKET, 4, _ms("2024-06-01T00:00:00Z"))
    buckets = [_bucket(LONG_BUCKET, "long-bucket", "Ids longer than a file name", "2024-06-01T00:00:00Z",
                       10, 10485760)]
    return Store("long", buckets, _connections([conn]), {LONG_BUCKET: syncs})


def load(name):
    """A fresh Store for a data set name ('small', 'large', 'weird', 'many'
    or 'heavy')."""
    builders = {"small": _small, "large": _large, "weird": _weird, "many": _many, "heavy": _heavy,
                "long": _long}
    if name not in builders:
        raise ValueError("unknown dataset %r (choose from %s)" % (name, ", ".join(DATASETS)))
    return builders[name]()
