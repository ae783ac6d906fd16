-- Session summaries sorted by start hour, so that the newest sessions of a
-- product (a page of the session list) lie together at the end of its
-- range instead of scattered by session id: a page reads the few granules
-- of its hours, which the primary key finds from a lower bound on
-- started_ms. Replaces sessions (0002), which sorted by session id only.
--
-- A row is keyed by its start hour, so a session whose start moves to
-- another hour (an earlier event written late) would leave its old row
-- behind: the refresh writes the deleted row under the stored start time
-- (queries/refresh.sql). The bloom filter finds a session by id alone
-- (the session detail, the refresh) in a few granules rather than one per
-- hour of the product.
CREATE TABLE IF NOT EXISTS {{database}}.session_summaries
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
    deleted UInt8,
    INDEX idx_session_id session_id TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY (product_id, intDiv(started_ms, 3600000), session_id)
-- Read with FINAL, cheapest on one part: once no refresh has written for
-- 10 seconds, the parts are merged into one.
SETTINGS min_age_to_force_merge_seconds = 10, min_age_to_force_merge_on_partition_only = 1,
    index_granularity = 256, min_compress_block_size = 4096, max_compress_block_size = 16384;

-- The summaries stored so far (their watermark stays valid). Run again,
-- the copy writes the same rows, which FINAL counts once.
INSERT INTO {{database}}.session_summaries
SELECT
    product_id, session_id, session_user, started_ms, last_ms, has_end, end_ms, conversation_depth, llm_calls,
    tool_calls, unpriced_llm_calls, llm_cost_usd, tool_cost_usd, revenue_usd, cache_savings_usd,
    outcomes, converted, explicit_topic, classified, payment_currencies, payment_amounts,
    event_types, metadata_keys, metadata_values, version, deleted
FROM {{database}}.sessions FINAL;

-- Emptied rather than dropped, so that running this migration again finds
-- the table it copies from.
TRUNCATE TABLE IF EXISTS {{database}}.sessions;
