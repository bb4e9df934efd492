package main

import "testing"

func TestMemoryLimitFor(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int64
	}{
		{0, 40 << 20},
		{11 << 20, 40 << 20}, // a plain list load: the floor
		{(40 << 20) / 3, 40 << 20},
		{24 << 20, 72 << 20}, // 500 idle streams
		{100 << 20, 300 << 20},
	} {
		if got := memoryLimitFor(tc.live); got != tc.want {
			t.Errorf("memoryLimitFor(%d MiB) = %d MiB, want %d MiB", tc.live>>20, got>>20, tc.want>>20)
		}
	}
}
