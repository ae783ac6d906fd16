{{/* session_metadata: each metadata key of the sessions with its latest value (raw JSON), by event time. */}}
SELECT
    session_id,
    key,
    argMax(value, (timestamp, event_id)) AS latest
FROM
(
    SELECT session_id, timestamp, event_id, kv.1 AS key, kv.2 AS value
    FROM {{.DB}}.events FINAL
    ARRAY JOIN JSONExtractKeysAndValuesRaw(metadata) AS kv
    WHERE product_id = {{.Product}} AND session_id IN ({{.SessionIDs}})
)
GROUP BY session_id, key
ORDER BY session_id, key
