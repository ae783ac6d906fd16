{{/* funnel: for each stage, the sessions whose furthest stage is it or a later one. */}}
SELECT {{.StageCounts}}
FROM ({{template "sessions" .}})
