"""Generate a realistic PostgreSQL database of a given size for the backup benchmark.

Not pgbench's blank filler: four tables whose data compresses the way an application's
does, made inside the server with generate_series (fast, reproducible with setseed):

- ``conversations``: agent conversations — a UUID, timestamps spread over a year, a
  status from a small set, a title and a body of natural-language-like text drawn from a
  vocabulary (compresses ~3-4x), a JSONB metadata document (model, token counts, tags,
  nested tool calls with numbers);
- ``events``: narrow rows — bigint ids, timestamptz, an event kind, an integer agent id, a
  double, a short JSONB payload and a random hex trace id (poorly compressible);
- ``artifacts``: random bytea of 1-8 KiB (incompressible: files, embeddings);
- ``metrics``: a time series of (time, agent, metric name, value) with an index.

Batches of about 10 MB until ``pg_database_size`` reaches the target (re-running on a
partly filled database completes it), then ``VACUUM (FREEZE, ANALYZE)`` so that no hint-bit
writes or autovacuum run later, during a measurement.

Run: python bench/pgdata.py --dsn "host=... dbname=..." --size-mb 1024
"""

from __future__ import annotations

import argparse
import time

import psycopg

WORDS = (
    "agent task plan tool call result error retry memory context message user system model "
    "token stream graph node edge state checkpoint thread run step output input query search "
    "document vector embedding score rank filter policy route module network trace event "
    "metric latency request response cache database table index row column schema version "
    "deploy release rollback health check ready live probe scale replica region cluster pod "
    "service ingress secret config backup restore window lease lock owner holder the a of to "
    "and in is for on with as by at from that this it be are was were has have had not but "
    "or an will can all would there their what so up out if about who get which go me when "
    "make like time no just him know take people into year your good some could them see "
    "other than then now look only come its over think also back after use two how our work "
    "first well way even new want because any these give day most us analysis summary report"
).split()

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    status text NOT NULL,
    title text NOT NULL,
    body text NOT NULL,
    metadata jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    kind text NOT NULL,
    agent_id integer NOT NULL,
    duration_ms double precision,
    payload jsonb,
    trace_id text NOT NULL
);
CREATE TABLE IF NOT EXISTS artifacts (
    id bigserial PRIMARY KEY,
    conversation_id uuid,
    name text NOT NULL,
    content bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS metrics (
    at timestamptz NOT NULL,
    agent_id integer NOT NULL,
    name text NOT NULL,
    value double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_at ON metrics (at, agent_id);
"""

# Each batch adds roughly 10 MB across the four tables.
BATCH = """
WITH w AS (SELECT %(words)s::text[] AS words)
INSERT INTO conversations
SELECT gen_random_uuid(),
       now() - random() * interval '365 days',
       now() - random() * interval '30 days',
       (ARRAY['open','waiting','done','failed','archived'])[1 + floor(random() * 5)::int],
       (SELECT string_agg(words[1 + floor(random() * array_length(words, 1))::int + 0 * k], ' ')
          FROM generate_series(1, 4 + (g %% 5)) k),
       (SELECT string_agg(words[1 + floor(random() * array_length(words, 1))::int + 0 * k], ' ')
          FROM generate_series(1, 80 + (g %% 400)) k),
       jsonb_build_object(
         'model', (ARRAY['gpt-4o','claude-3','llama-3','mistral'])[1 + g %% 4],
         'tokens', jsonb_build_object('in', floor(random() * 8000), 'out', floor(random() * 2000)),
         'tags', jsonb_build_array('t' || (g %% 37), 't' || (g %% 11)),
         'tools', (SELECT jsonb_agg(jsonb_build_object('name', 'tool_' || (k %% 9),
                                                       'ms', round(random() * 900)::int,
                                                       'ok', random() > 0.1))
                     FROM generate_series(1, 1 + g %% 4) k))
  FROM w, generate_series(1, 1500) g;

INSERT INTO events (at, kind, agent_id, duration_ms, payload, trace_id)
SELECT now() - random() * interval '90 days',
       (ARRAY['start','tool','llm','handoff','finish','error'])[1 + floor(random() * 6)::int],
       floor(random() * 500)::int,
       random() * 2000,
       jsonb_build_object('attempt', g %% 3, 'queue', 'q' || (g %% 7)),
       md5(random()::text) || md5(random()::text)
  FROM generate_series(1, 20000) g;

INSERT INTO artifacts (conversation_id, name, content)
SELECT gen_random_uuid(), 'artifact-' || g || '.bin',
       (SELECT decode(string_agg(md5(random()::text || k), ''), 'hex')
          FROM generate_series(1, 64 + floor(random() * 448)::int + 0 * g) k)
  FROM generate_series(1, 220) g;

INSERT INTO metrics
SELECT now() - (g || ' seconds')::interval, g %% 200,
       (ARRAY['cpu','memory','latency_p99','requests','errors'])[1 + g %% 5],
       random() * 100
  FROM generate_series(1, 30000) g;
"""


def database_size(conn):
    return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


def generate(dsn, size_mb, seed=0.42, progress=None):
    """Fill the database at ``dsn`` until pg_database_size reaches ``size_mb`` MiB."""
    target = size_mb * 1024 * 1024
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
        conn.execute("SELECT setseed(%s)", (seed,))
        while database_size(conn) < target:
            for statement in BATCH.split(";\n\n"):
                if "%(words)s" in statement:
                    conn.execute(statement, {"words": WORDS})
                else:
                    conn.execute(statement.replace("%%", "%"))
            if progress:
                progress(database_size(conn))
        conn.execute("VACUUM (FREEZE, ANALYZE)")
        return database_size(conn)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    start = time.monotonic()
    size = generate(args.dsn, args.size_mb, progress=lambda s: print("  %.0f MiB" % (s / 2**20), flush=True))
    print("database size %.0f MiB in %.0f s" % (size / 2**20, time.monotonic() - start))


if __name__ == "__main__":
    main()
