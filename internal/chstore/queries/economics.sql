{{/* economics: revenue and cost over the sessions, with the original payment amounts per currency. */}}
WITH sumMap(arrayMap(p -> p.1, payments), arrayMap(p -> p.2, payments)) AS by_currency
SELECT
    toInt64(count()) AS sessions,
    toInt64(countIf(converted)) AS converted_sessions,
    sum(revenue_usd) AS revenue,
    sum(total_cost_usd) AS cost,
    sum(llm_cost_usd) AS llm_cost,
    sum(tool_cost_usd) AS tool_cost,
    revenue - cost AS margin,
    if(revenue = 0, NULL, margin / revenue) AS margin_pct,
    if(sessions = 0, 0, revenue / sessions) AS avg_revenue,
    if(sessions = 0, 0, cost / sessions) AS avg_cost,
    if(sessions = 0, 0, margin / sessions) AS avg_margin,
    if(converted_sessions = 0, NULL, cost / converted_sessions) AS cost_per_conversion,
    sum(cache_savings_usd) AS cache_savings,
    toInt64(sum(unpriced_llm_calls)) AS unpriced,
    by_currency.1 AS currencies,
    by_currency.2 AS currency_amounts
FROM ({{template "sessions" .}})
