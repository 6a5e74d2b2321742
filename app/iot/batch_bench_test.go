package iot

import (
	"context"
	"fmt"
	"testing"
	"time"

	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
)

// BenchmarkWriteBatch measures the telemetry.batch path without the
// broker: 1000-reading batches (100 devices × 10 metrics) through raft and
// the handler.
func BenchmarkWriteBatch(b *testing.B) {
	e := newEnv(b, envOpts{})
	for i := 0; i < 100; i++ {
		e.createDevice(DeviceInput{ID: fmt.Sprintf("wb-%03d", i), Name: "x", Type: "water_level"})
	}
	e.rule(RuleInput{Name: "r", DeviceType: "water_level", Metric: "m0", Kind: KindThreshold, Op: "gt", Threshold: 1e9, Severity: "major"})
	base := time.Now().Add(-time.Hour)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		batch := make([]mqtt.Reading, 0, 1000)
		for d := 0; d < 100; d++ {
			for k := 0; k < 10; k++ {
				batch = append(batch, mqtt.Reading{Device: fmt.Sprintf("wb-%03d", d), Metric: fmt.Sprintf("m%d", k), Value: float64(n % 50),
					TS: base.Add(time.Duration(n) * time.Millisecond)})
			}
		}
		if err := e.m.WriteBatch(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "readings/s")
}
