{{/* session_events: the events of one session as ingested, in time order, ties by event_id; too few rows to gain from compiling (see session_list.sql). */}}
SELECT
    event_id,
    session_id,
    toString(event_type),
    toUnixTimestamp64Milli(timestamp),
    user_id,
    product_id,
    metadata,
    properties,
    truncated,
    cost_usd,
    toString(cost_status)
FROM {{.DB}}.events FINAL
WHERE product_id = {{.Product}}
    AND event_id IN (
        SELECT event_id FROM {{.DB}}.event_copies
        WHERE product_id = {{.Product}} AND session_id = {{.SessionID}})
    AND session_id = {{.SessionID}}
ORDER BY timestamp, event_id
SETTINGS compile_expressions = 0, compile_sort_description = 0
