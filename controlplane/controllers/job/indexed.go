package job

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

const (
	// completionIndexEnvName is the variable through which an Indexed
	// Job's containers learn their index.
	completionIndexEnvName = "JOB_COMPLETION_INDEX"
	unknownCompletionIndex = -1
	// maxGeneratedNameLength is the API server's: a generateName prefix
	// leaves room for five random characters in a 63-character name.
	maxGeneratedNameLength = 58
)

func isIndexedJob(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
}

// interval is a run of indexes, First to Last inclusive.
type interval struct{ First, Last int }

// orderedIntervals is a set of indexes as sorted, disjoint, non-adjacent
// intervals: the compressed form of status.completedIndexes.
type orderedIntervals []interval

// withOrderedIndexes returns the union of oi and indexes, which must be
// sorted.
func (oi orderedIntervals) withOrderedIndexes(indexes []int) orderedIntervals {
	add := make(orderedIntervals, len(indexes))
	for i, ix := range indexes {
		add[i] = interval{ix, ix}
	}
	return oi.merge(add)
}

func (oi orderedIntervals) merge(other orderedIntervals) orderedIntervals {
	var result orderedIntervals
	appendOrMerge := func(iv interval) {
		if n := len(result); n > 0 && iv.First <= result[n-1].Last+1 {
			result[n-1].Last = max(result[n-1].Last, iv.Last)
			return
		}
		result = append(result, iv)
	}
	i, j := 0, 0
	for i < len(oi) && j < len(other) {
		if oi[i].First < other[j].First {
			appendOrMerge(oi[i])
			i++
		} else {
			appendOrMerge(other[j])
			j++
		}
	}
	for ; i < len(oi); i++ {
		appendOrMerge(oi[i])
	}
	for ; j < len(other); j++ {
		appendOrMerge(other[j])
	}
	return result
}

func (oi orderedIntervals) total() int {
	n := 0
	for _, iv := range oi {
		n += iv.Last - iv.First + 1
	}
	return n
}

func (oi orderedIntervals) has(ix int) bool {
	i := sort.Search(len(oi), func(i int) bool { return oi[i].Last >= ix })
	return i < len(oi) && oi[i].First <= ix
}

// String is upstream's format: "1,3-5,7,8" (two adjacent indexes are
// listed, longer runs become ranges).
func (oi orderedIntervals) String() string {
	var b strings.Builder
	for _, iv := range oi {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(iv.First))
		switch {
		case iv.Last == iv.First+1:
			b.WriteByte(',')
			b.WriteString(strconv.Itoa(iv.Last))
		case iv.Last > iv.First:
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(iv.Last))
		}
	}
	return b.String()
}

// parseIndexes reads the compressed form, keeping indexes below
// completions and skipping corrupted parts, as upstream.
func parseIndexes(s string, completions int) orderedIntervals {
	if s == "" {
		return nil
	}
	var result orderedIntervals
	for _, part := range strings.Split(s, ",") {
		first, last, isRange := strings.Cut(part, "-")
		var iv interval
		var err error
		if iv.First, err = strconv.Atoi(first); err != nil {
			continue
		}
		if iv.First >= completions {
			break
		}
		iv.Last = iv.First
		if isRange {
			if iv.Last, err = strconv.Atoi(last); err != nil {
				continue
			}
			iv.Last = min(iv.Last, completions-1)
		}
		if n := len(result); n > 0 && result[n-1].Last == iv.First-1 {
			result[n-1].Last = iv.Last
			continue
		}
		result = append(result, iv)
	}
	return result
}

// completionIndex is a pod's index, or unknownCompletionIndex.
func completionIndex(pod *corev1.Pod) int {
	v, ok := pod.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return unknownCompletionIndex
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return unknownCompletionIndex
	}
	return i
}

// validIndex reports a pod whose index the Job counts.
func validIndex(job *batchv1.Job, pod *corev1.Pod) bool {
	ix := completionIndex(pod)
	return ix != unknownCompletionIndex && ix < int(*job.Spec.Completions)
}

// succeededIndexes returns the indexes status.completedIndexes holds and
// those plus the indexes of succeeded pods not counted yet.
func succeededIndexes(job *batchv1.Job, pods []*corev1.Pod) (prev, all orderedIntervals) {
	prev = parseIndexes(job.Status.CompletedIndexes, int(*job.Spec.Completions))
	var fresh []int
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded && hasTrackingFinalizer(p) && validIndex(job, p) {
			fresh = append(fresh, completionIndex(p))
		}
	}
	slices.Sort(fresh)
	return prev, prev.withOrderedIndexes(slices.Compact(fresh))
}

// indexesOf are the valid indexes of pods, sorted and unique.
func indexesOf(pods []*corev1.Pod) []int {
	var out []int
	for _, p := range pods {
		if ix := completionIndex(p); ix != unknownCompletionIndex {
			out = append(out, ix)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// firstPendingIndexes returns up to count indexes below completions that
// no active pod runs and that have not succeeded; with
// podReplacementPolicy Failed, terminating pods still hold their index.
func firstPendingIndexes(jc *syncContext, count, completions int) []int {
	if count == 0 {
		return nil
	}
	taken := jc.succeededIndexes.withOrderedIndexes(indexesOf(jc.activePods))
	if onlyReplaceFailedPods(jc.job) {
		taken = taken.withOrderedIndexes(indexesOf(terminatingPods(jc.pods)))
	}
	result := make([]int, 0, count)
	candidate := 0
	for _, iv := range taken {
		for ; candidate < completions && len(result) < count && candidate < iv.First; candidate++ {
			result = append(result, candidate)
		}
		candidate = max(candidate, iv.Last+1)
	}
	for ; candidate < completions && len(result) < count; candidate++ {
		result = append(result, candidate)
	}
	return result
}

// duplicatedIndexPodsForRemoval splits active pods into those to remove
// (no index, an index out of range, or all but the best pod of a repeated
// index) and those left.
func duplicatedIndexPodsForRemoval(pods []*corev1.Pod, completions int) (rm, left []*corev1.Pod) {
	byIndex := map[int][]*corev1.Pod{}
	for _, p := range pods {
		ix := completionIndex(p)
		if ix == unknownCompletionIndex || ix >= completions {
			rm = append(rm, p)
			continue
		}
		byIndex[ix] = append(byIndex[ix], p)
	}
	indexes := make([]int, 0, len(byIndex))
	for ix := range byIndex {
		indexes = append(indexes, ix)
	}
	slices.Sort(indexes)
	for _, ix := range indexes {
		same := byIndex[ix]
		sortForRemoval(same)
		rm = append(rm, same[:len(same)-1]...)
		left = append(left, same[len(same)-1])
	}
	return rm, left
}

// addCompletionIndexEnv gives every container JOB_COMPLETION_INDEX from
// the pod's index label, unless the template sets it.
func addCompletionIndexEnv(template *corev1.PodTemplateSpec) {
	add := func(c *corev1.Container) {
		if slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == completionIndexEnvName }) {
			return
		}
		c.Env = append(c.Env, corev1.EnvVar{
			Name: completionIndexEnvName,
			ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
				FieldPath: fmt.Sprintf("metadata.labels['%s']", batchv1.JobCompletionIndexAnnotation),
			}},
		})
	}
	for i := range template.Spec.InitContainers {
		add(&template.Spec.InitContainers[i])
	}
	for i := range template.Spec.Containers {
		add(&template.Spec.Containers[i])
	}
}

// withCompletionIndex is the template of the pod for index ix: its index
// as annotation and label, the hostname <job>-<ix>, and the name prefix
// <job>-<ix>-.
func withCompletionIndex(template *corev1.PodTemplateSpec, jobName string, ix int) (*corev1.PodTemplateSpec, string) {
	t := template.DeepCopy()
	if t.Annotations == nil {
		t.Annotations = map[string]string{}
	}
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	t.Annotations[batchv1.JobCompletionIndexAnnotation] = strconv.Itoa(ix)
	t.Labels[batchv1.JobCompletionIndexAnnotation] = strconv.Itoa(ix)
	t.Spec.Hostname = fmt.Sprintf("%s-%d", jobName, ix)
	suffix := "-" + strconv.Itoa(ix) + "-"
	prefix := jobName + suffix
	if len(prefix) > maxGeneratedNameLength {
		prefix = prefix[:maxGeneratedNameLength-len(suffix)] + suffix
	}
	return t, prefix
}
