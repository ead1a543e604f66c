package scheduler

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kindish/kindish/controlplane/scheduler/queue"
)

// Upstream's values for the result label.
const (
	resultScheduled     = "scheduled"
	resultUnschedulable = "unschedulable"
	resultError         = "error"
)

// metrics are the scheduler's Prometheus metrics, under upstream's names
// so that dashboards written for kube-scheduler read them.
type metrics struct {
	profile         string
	attempts        *prometheus.CounterVec
	attemptDuration *prometheus.HistogramVec
	sliDuration     *prometheus.HistogramVec
	podAttempts     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, profile string, q *queue.Queue) *metrics {
	m := &metrics{
		profile: profile,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scheduler_schedule_attempts_total",
			Help: "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem.",
		}, []string{"result", "profile"}),
		attemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scheduler_scheduling_attempt_duration_seconds",
			Help:    "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"result", "profile"}),
		sliDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scheduler_pod_scheduling_sli_duration_seconds",
			Help:    "E2e latency for a pod being scheduled, from the time the pod enters the scheduling queue and might involve multiple scheduling attempts.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 20),
		}, []string{"attempts"}),
		podAttempts: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "scheduler_pod_scheduling_attempts",
			Help:    "Number of attempts to successfully schedule a pod.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 5),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.attempts, m.attemptDuration, m.sliDuration, m.podAttempts, newPendingPods(q))
	}
	return m
}

// attempt counts one scheduling attempt that ended with result.
func (m *metrics) attempt(result string, took time.Duration) {
	m.attempts.WithLabelValues(result, m.profile).Inc()
	m.attemptDuration.WithLabelValues(result, m.profile).Observe(took.Seconds())
}

// scheduled records a pod bound after attempts, sinceFirstAttempt after it
// was first tried.
func (m *metrics) scheduled(attempts int, sinceFirstAttempt time.Duration) {
	label := strconv.Itoa(attempts)
	if attempts >= 15 {
		label = "15+"
	}
	m.sliDuration.WithLabelValues(label).Observe(sinceFirstAttempt.Seconds())
	m.podAttempts.Observe(float64(attempts))
}

// pendingPods reports scheduler_pending_pods from the queue when scraped.
type pendingPods struct {
	q    *queue.Queue
	desc *prometheus.Desc
}

func newPendingPods(q *queue.Queue) pendingPods {
	return pendingPods{q: q, desc: prometheus.NewDesc("scheduler_pending_pods",
		"Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated.",
		[]string{"queue"}, nil)}
}

func (p pendingPods) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }

func (p pendingPods) Collect(ch chan<- prometheus.Metric) {
	c := p.q.Counts()
	for _, v := range []struct {
		queue string
		n     int
	}{{"active", c.Active}, {"backoff", c.Backoff}, {"unschedulable", c.Unschedulable}, {"gated", c.Gated}} {
		ch <- prometheus.MustNewConstMetric(p.desc, prometheus.GaugeValue, float64(v.n), v.queue)
	}
}
