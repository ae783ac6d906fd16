-- Session summaries, so that period queries read one row per session
-- instead of summarizing every event of the product.
--
-- event_copies keeps every copy of every event id as written, never
-- deduplicated: when an event is written again with another session, the
-- refresh finds the session it was in before (which lost it) here, even
-- after events has merged the two copies into one. Its projection lists a
-- session's event ids, so that reading one session from events is a
-- primary-key lookup of those ids rather than a scan.
CREATE TABLE IF NOT EXISTS {{database}}.event_copies
(
    product_id String CODEC(ZSTD(1)),
    event_id String CODEC(ZSTD(1)),
    session_id String CODEC(ZSTD(1)),
    ingested_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    INDEX idx_ingested_at ingested_at TYPE minmax GRANULARITY 1,
    PROJECTION by_session (SELECT product_id, session_id, event_id ORDER BY product_id, session_id, event_id)
)
ENGINE = MergeTree
ORDER BY (product_id, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.event_copies_mv TO {{database}}.event_copies
AS SELECT product_id, event_id, session_id, ingested_at FROM {{database}}.events;

-- The events written before this migration.
INSERT INTO {{database}}.event_copies (product_id, event_id, session_id, ingested_at)
SELECT product_id, event_id, session_id, ingested_at FROM {{database}}.events;

-- One row per session as of its last refresh (queries/refresh.sql), with
-- what the summary needs that does not depend on the query: the time- and
-- funnel-dependent fields are computed when queried. A session whose
-- events all moved to other sessions gets a deleted row.
CREATE TABLE IF NOT EXISTS {{database}}.sessions
(
    product_id String,
    session_id String,
    session_user String,
    started_ms Int64,
    last_ms Int64,
    has_end Bool,
    end_ms Int64,
    conversation_depth Int64,
    llm_calls Int64,
    tool_calls Int64,
    unpriced_llm_calls Int64,
    llm_cost_usd Float64,
    tool_cost_usd Float64,
    revenue_usd Float64,
    cache_savings_usd Float64,
    outcomes Array(String),
    converted Bool,
    explicit_topic String,
    classified String,
    payment_currencies Array(String),
    payment_amounts Array(Float64),
    event_types Array(String),
    metadata_keys Array(String),
    metadata_values Array(String),
    version UInt64,
    deleted UInt8
)
ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY (product_id, session_id)
-- Queries read it with FINAL, which is cheapest on one part: once no
-- refresh has written for 10 seconds, the parts are merged into one. Small
-- granules and compressed blocks keep a page of the session list (the 50
-- newest rows of many) from decompressing every row's arrays.
SETTINGS min_age_to_force_merge_seconds = 10, min_age_to_force_merge_on_partition_only = 1,
    index_granularity = 256, min_compress_block_size = 4096, max_compress_block_size = 16384;

-- The refresh watermark: every event written before it is summarized in
-- sessions; the others are summarized when queried.
CREATE TABLE IF NOT EXISTS {{database}}.session_refresh
(
    id UInt8,
    watermark_ms Int64
)
ENGINE = ReplacingMergeTree(watermark_ms)
ORDER BY id;

-- Reads of events by session now go through event_copies and by period
-- through sessions: the skip indexes only cost inserts.
ALTER TABLE {{database}}.events DROP INDEX IF EXISTS idx_session_id;
ALTER TABLE {{database}}.events DROP INDEX IF EXISTS idx_user_id;
ALTER TABLE {{database}}.events DROP INDEX IF EXISTS idx_timestamp;
