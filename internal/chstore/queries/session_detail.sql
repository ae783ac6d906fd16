{{/* session_detail: the summary of one session (.EventWhere names it). */}}
SELECT
    {{- template "summary"}}
FROM ({{template "sessions" .}})
