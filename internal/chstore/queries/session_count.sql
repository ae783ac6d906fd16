{{/* session_count: the number of sessions that match, for a page past the end. */}}
SELECT toInt64(count()) AS total
FROM ({{template "sessions" .}})
