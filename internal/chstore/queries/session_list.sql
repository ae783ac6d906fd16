{{/*
session_list: one page of summaries, newest first, with the number of all
matches. .Paged is the same query narrowed to the sessions of the page
(session_page.sql), so that only 50 rows are read whole.
*/}}
SELECT
    {{- template "summary"}},
    toInt64(ifNull(({{template "session_count.sql" .}}), 0)) AS total
FROM ({{template "sessions" .Paged}})
ORDER BY started_ms DESC, session_id ASC
