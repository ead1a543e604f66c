// Package job is upstream's job-controller: it runs a Job's pods from its
// template until spec.completions of them succeed (or, without
// completions, until one does and the rest end), at most
// spec.parallelism at a time, in NonIndexed or Indexed completion mode.
//
// Pods are counted as upstream counts them since 1.26: every pod is
// created with the batch.kubernetes.io/job-tracking finalizer, a finished
// pod's UID goes first into status.uncountedTerminatedPods, then its
// finalizer is removed, and only then does it move into status.succeeded
// or status.failed. A pod is thus counted exactly once, even when the
// controller restarts halfway or the pod is deleted meanwhile.
//
// Failed pods are replaced after an exponential back-off (10 s, doubling,
// capped); the Job fails once more pods failed than spec.backoffLimit
// allows, when spec.activeDeadlineSeconds passes, or when a pod matches a
// FailJob rule of spec.podFailurePolicy. As in 1.36, the verdict is first
// recorded as the interim SuccessCriteriaMet or FailureTarget condition,
// and the terminal Complete or Failed condition follows once no pod of
// the Job is still terminating.
//
// Jobs whose spec.managedBy names another controller are left to it, as
// upstream. Left out: spec.backoffLimitPerIndex and maxFailedIndexes
// (such Jobs fall back to the global back-off limit), and metrics.
package job
