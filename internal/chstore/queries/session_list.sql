{{/*
session_list: one page of summaries, newest first, with the number of all
matches. head holds that number and, with .HeadRows set, the start time of
the last session of the page (the .HeadRows-th newest; the oldest when
fewer match), read from started_ms alone. .Paged is the query narrowed to
the sessions that start at or after it, which the primary key finds among
the newest hours of the product: only they are sorted, and only the page is
read whole. The engine compiles an expression or a sort description the
fourth time it sees it, which made that page about 100 ms slower; a page
has too few rows to gain from it.
*/}}
WITH (
    SELECT tuple(
        toInt64(count()),
        {{- if .HeadRows}}
        -arrayElement(groupArraySorted({{.HeadRows}})(-started_ms), -1)
        {{- else}}
        toInt64(0)
        {{- end}})
    FROM ({{template "sessions" .}})
) AS head
SELECT
    {{- template "summary"}},
    toInt64(ifNull(head.1, 0)) AS total
FROM ({{template "sessions" .Paged}})
ORDER BY started_ms DESC, session_id ASC
LIMIT {{.Limit}} OFFSET {{.Offset}}
SETTINGS compile_expressions = 0, compile_sort_description = 0
