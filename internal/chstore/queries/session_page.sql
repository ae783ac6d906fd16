{{/* session_page: the ids of one page of sessions, newest first; only the columns the filters need are read. */}}
SELECT session_id
FROM ({{template "sessions" .}})
ORDER BY started_ms DESC, session_id ASC
LIMIT {{.Limit}} OFFSET {{.Offset}}
