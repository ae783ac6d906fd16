{{/* economics: revenue and cost over the sessions, with the original payment amounts per currency. */}}
{{/* sumMap drops keys whose sum is 0; seen keeps every currency paid in. */}}
WITH sumMap(payment_currencies, payment_amounts) AS by_currency,
    sumMap(payment_currencies, arrayMap(c -> toUInt64(1), payment_currencies)) AS seen
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
    seen.1 AS currencies,
    arrayMap(c -> if(has(by_currency.1, c), by_currency.2[indexOf(by_currency.1, c)], 0), seen.1) AS currency_amounts
FROM ({{template "sessions" .}})
