package kubeproxy

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// metricsSubsystem prefixes every metric, as upstream's.
const metricsSubsystem = "kubeproxy"

// metrics are kube-proxy's Prometheus metrics under upstream's names
// (pkg/proxy/metrics), so dashboards and the network programming latency
// SLI read them unchanged.
type metrics struct {
	syncDuration           prometheus.Histogram
	fullSyncDuration       prometheus.Histogram
	lastSync               prometheus.Gauge
	lastQueued             prometheus.Gauge
	networkProgramming     prometheus.Histogram
	endpointChangesPending prometheus.Gauge
	endpointChangesTotal   prometheus.Counter
	serviceChangesPending  prometheus.Gauge
	serviceChangesTotal    prometheus.Counter
	restoreFailures        prometheus.Counter
	iptablesRules          *prometheus.GaugeVec
	iptablesRulesLastSync  *prometheus.GaugeVec
	healthzResponses       *prometheus.CounterVec
	livezResponses         *prometheus.CounterVec
}

// newMetrics creates the metrics and registers them on reg.
func newMetrics(reg prometheus.Registerer) *metrics {
	syncBuckets := prometheus.ExponentialBuckets(0.001, 2, 15)
	m := &metrics{
		syncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Subsystem: metricsSubsystem, Name: "sync_proxy_rules_duration_seconds",
			Help: "SyncProxyRules latency in seconds", Buckets: syncBuckets,
		}),
		// Every sync here rewrites all of kube-proxy's chains.
		fullSyncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Subsystem: metricsSubsystem, Name: "sync_full_proxy_rules_duration_seconds",
			Help: "SyncProxyRules latency in seconds for full resyncs", Buckets: syncBuckets,
		}),
		lastSync: prometheus.NewGauge(prometheus.GaugeOpts{
			Subsystem: metricsSubsystem, Name: "sync_proxy_rules_last_timestamp_seconds",
			Help: "The last time proxy rules were successfully synced",
		}),
		lastQueued: prometheus.NewGauge(prometheus.GaugeOpts{
			Subsystem: metricsSubsystem, Name: "sync_proxy_rules_last_queued_timestamp_seconds",
			Help: "The last time a sync of proxy rules was queued",
		}),
		networkProgramming: prometheus.NewHistogram(prometheus.HistogramOpts{
			Subsystem: metricsSubsystem, Name: "network_programming_duration_seconds",
			Help: "In Cluster Network Programming Latency in seconds",
			Buckets: slices.Concat(
				prometheus.LinearBuckets(0.25, 0.25, 2), // 0.25s, 0.50s
				prometheus.LinearBuckets(1, 1, 59),      // 1s, 2s, 3s, ... 59s
				prometheus.LinearBuckets(60, 5, 12),     // 60s, 65s, 70s, ... 115s
				prometheus.LinearBuckets(120, 30, 7),    // 2min, 2.5min, 3min, ..., 5min
			),
		}),
		endpointChangesPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Subsystem: metricsSubsystem, Name: "sync_proxy_rules_endpoint_changes_pending",
			Help: "Pending proxy rules Endpoint changes",
		}),
		endpointChangesTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Subsystem: metricsSubsystem, Name: "sync_proxy_rules_endpoint_changes_total",
			Help: "Cumulative proxy rules Endpoint changes",
		}),
		serviceChangesPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Subsystem: metricsSubsystem, Name: "sync_proxy_rules_service_changes_pending",
			Help: "Pending proxy rules Service changes",
		}),
		serviceChangesTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Subsystem: metricsSubsystem, Name: "sync_proxy_rules_service_changes_total",
			Help: "Cumulative proxy rules Service changes",
		}),
		restoreFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Subsystem: metricsSubsystem, Name: "sync_proxy_rules_iptables_restore_failures_total",
			Help: "Cumulative proxy iptables restore failures",
		}),
		iptablesRules: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Subsystem: metricsSubsystem, Name: "sync_proxy_rules_iptables_total",
			Help: "Total number of iptables rules owned by kube-proxy",
		}, []string{"table"}),
		iptablesRulesLastSync: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Subsystem: metricsSubsystem, Name: "sync_proxy_rules_iptables_last",
			Help: "Number of iptables rules written by kube-proxy in last sync",
		}, []string{"table"}),
		healthzResponses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Subsystem: metricsSubsystem, Name: "proxy_healthz_total",
			Help: "Cumulative proxy healthz HTTP status",
		}, []string{"code"}),
		livezResponses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Subsystem: metricsSubsystem, Name: "proxy_livez_total",
			Help: "Cumulative proxy livez HTTP status",
		}, []string{"code"}),
	}
	if reg != nil {
		reg.MustRegister(m.syncDuration, m.fullSyncDuration, m.lastSync, m.lastQueued, m.networkProgramming,
			m.endpointChangesPending, m.endpointChangesTotal, m.serviceChangesPending, m.serviceChangesTotal,
			m.restoreFailures, m.iptablesRules, m.iptablesRulesLastSync, m.healthzResponses, m.livezResponses)
	}
	return m
}
