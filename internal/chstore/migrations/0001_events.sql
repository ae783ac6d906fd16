-- Every event, one row each. The sorting key is the deduplication key:
-- ReplacingMergeTree keeps one row per (product_id, event_id) after merges,
-- and every query reads the table with FINAL, so an event sent twice counts
-- once before any merge too. Queries by session use the bloom filter on
-- session_id; queries by period use the minmax index on timestamp.
CREATE TABLE IF NOT EXISTS {{database}}.events
(
    product_id String,
    session_id String,
    event_id String,
    event_type LowCardinality(String),
    timestamp DateTime64(3, 'UTC'),
    user_id String,
    -- metadata and properties as ingested, as JSON objects
    metadata String,
    properties String,
    truncated Bool,

    -- typed columns extracted for the analytics
    model LowCardinality(String),
    provider LowCardinality(String),
    input_tokens Int64,
    output_tokens Int64,
    cached_input_tokens Int64,
    cache_creation_input_tokens Int64,
    reasoning_tokens Int64,
    duration_ms Float64,
    cost_usd Nullable(Float64),
    cost_status LowCardinality(String),
    tool_name LowCardinality(String),
    saved_cost_usd Float64,
    amount Float64,
    currency LowCardinality(String),
    amount_usd Nullable(Float64),
    metadata_topic String,
    classified_topic LowCardinality(String),
    end_reason LowCardinality(String),
    outcome LowCardinality(String),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),

    INDEX idx_session_id session_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_timestamp timestamp TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (product_id, event_id);
