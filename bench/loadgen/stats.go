package main

import (
	"math"
	"sort"
	"time"
)

// samples are latencies in milliseconds, sorted.
type samples []float64

func durations(ds []time.Duration) samples {
	s := make(samples, len(ds))
	for i, d := range ds {
		s[i] = float64(d.Microseconds()) / 1000
	}
	sort.Float64s(s)
	return s
}

func sortedMS(xs []float64) samples {
	s := append(samples(nil), xs...)
	sort.Float64s(s)
	return s
}

// percentile is the nearest-rank percentile p (0..100) of sorted samples.
func (s samples) percentile(p float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank-1, 0), len(s)-1)]
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
