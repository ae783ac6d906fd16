{{/* topics: sessions grouped by topic, most sessions first. */}}
SELECT
    session_topic,
    toInt64(count()) AS sessions,
    toInt64(countIf(converted)) AS converted_sessions,
    converted_sessions / sessions AS conversion_rate,
    sum(revenue_usd) AS revenue,
    sum(total_cost_usd) AS cost,
    revenue - cost AS margin,
    avg(conversation_depth) AS avg_depth
FROM ({{template "sessions" .}})
GROUP BY session_topic
ORDER BY sessions DESC, session_topic ASC
LIMIT {{.Limit}}
