{{/* session_list: one page of summaries, newest first, with the number of all matches. */}}
SELECT
    {{- template "summary"}},
    toInt64(count() OVER ()) AS total
FROM ({{template "sessions" .}})
ORDER BY started_ms DESC, session_id ASC
LIMIT {{.Limit}} OFFSET {{.Offset}}
