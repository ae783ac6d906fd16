{{/* session_detail: the summary of one session (.EventWhere names it); one row gains nothing from compiled expressions (see session_list.sql). */}}
SELECT
    {{- template "summary"}}
FROM ({{template "sessions" .}})
SETTINGS compile_expressions = 0, compile_sort_description = 0
