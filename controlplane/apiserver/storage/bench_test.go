package storage

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// benchWorkers is the number of concurrent clients in the write benchmarks:
// the target figures are for 16.
const benchWorkers = 16

func setWorkers(b *testing.B) {
	// RunParallel runs parallelism*GOMAXPROCS goroutines.
	b.SetParallelism(max(1, benchWorkers/runtimeProcs()))
}

func BenchmarkCreate(b *testing.B) {
	s, ctx, prefix := podStore(), ctxFor(b), testPrefix(b)
	var n atomic.Int64
	setWorkers(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		out := &corev1.Pod{}
		for pb.Next() {
			name := "pod-" + strconv.FormatInt(n.Add(1), 10)
			pod := testPod(name)
			if err := s.Create(ctx, prefix+name, pod, out); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

// BenchmarkGuaranteedUpdate changes one annotation per update, each worker
// on its own pod, as controllers' patches do. "read" lets the store read
// the object; "cached" hands it the object from the previous update, as a
// handler that just read it would.
func BenchmarkGuaranteedUpdate(b *testing.B) {
	for _, cached := range []bool{false, true} {
		name := "read"
		if cached {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) {
			s, ctx, prefix := podStore(), ctxFor(b), testPrefix(b)
			var n atomic.Int64
			setWorkers(b)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				key := fmt.Sprintf("%sworker-%d", prefix, n.Add(1))
				last := &corev1.Pod{}
				if err := s.Create(ctx, key, testPod("worker"), last); err != nil {
					b.Error(err)
					return
				}
				for pb.Next() {
					dest := &corev1.Pod{}
					if cached {
						dest = last
					}
					if err := s.GuaranteedUpdate(ctx, key, dest, false, nil, increment); err != nil {
						b.Error(err)
						return
					}
					last = dest
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}

// BenchmarkList2000 lists 2000 pods of 2.3 KB: "all" at once through the
// store's cache (warm after the first round), "no-cache" decoding every
// object, and "chunks-of-500" as kubectl pages by default.
func BenchmarkList2000(b *testing.B) {
	s, ctx, prefix := podStore(), ctxFor(b), testPrefix(b)
	for i := range 2000 {
		name := fmt.Sprintf("pod-%04d", i)
		if err := s.Create(ctx, prefix+name, testPod(name), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			list := &corev1.PodList{}
			if err := s.GetList(ctx, prefix, ListOptions{}, list); err != nil {
				b.Fatal(err)
			}
			if len(list.Items) != 2000 {
				b.Fatalf("%d items", len(list.Items))
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/list")
	})
	b.Run("no-cache", func(b *testing.B) {
		plain := New(testClient, nil, WithObjectCache(nil))
		for b.Loop() {
			list := &corev1.PodList{}
			if err := plain.GetList(ctx, prefix, ListOptions{}, list); err != nil {
				b.Fatal(err)
			}
			if len(list.Items) != 2000 {
				b.Fatalf("%d items", len(list.Items))
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/list")
	})
	b.Run("chunks-of-500", func(b *testing.B) {
		for b.Loop() {
			cont, total := "", 0
			for {
				list := &corev1.PodList{}
				if err := s.GetList(ctx, prefix, ListOptions{Predicate: SelectionPredicate{Limit: 500, Continue: cont}}, list); err != nil {
					b.Fatal(err)
				}
				total += len(list.Items)
				if cont = list.Continue; cont == "" {
					break
				}
			}
			if total != 2000 {
				b.Fatalf("%d items", total)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/list")
	})
}
