package nodeinit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// procDir is where the kernel shows the processes of this PID namespace.
const procDir = "/proc"

// procStat is the part of /proc/<pid>/stat the shutdown needs.
type procStat struct {
	pid, ppid int
	state     byte // R, S, D, Z, ...
}

// parseProcStat reads "pid (comm) state ppid ...". The command name may
// hold spaces and parentheses, so the fields after it are found from the
// last ')'.
func parseProcStat(b []byte) (procStat, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return procStat{}, fmt.Errorf("malformed stat: %q", b)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return procStat{}, fmt.Errorf("malformed stat pid: %q", b)
	}
	rest := bytes.Fields(b[end+1:])
	if len(rest) < 2 || len(rest[0]) != 1 {
		return procStat{}, fmt.Errorf("malformed stat: %q", b)
	}
	ppid, err := strconv.Atoi(string(rest[1]))
	if err != nil {
		return procStat{}, fmt.Errorf("malformed stat ppid: %q", b)
	}
	return procStat{pid: pid, ppid: ppid, state: rest[0][0]}, nil
}

// listProcesses reads the stat of every process; processes that exit
// while it reads are left out.
func listProcesses() []procStat {
	entries, err := os.ReadDir(procDir)
	if err != nil {
		return nil
	}
	var procs []procStat
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procDir, e.Name(), "stat"))
		if err != nil {
			continue
		}
		if st, err := parseProcStat(b); err == nil {
			procs = append(procs, st)
		}
	}
	return procs
}

// liveDescendants returns the processes below root that have not exited.
// As PID 1 that is every process of the node except those entered with
// `docker exec`, whose parent is outside the namespace. Zombies are left
// out: they are already dead and the reaper collects them.
func liveDescendants(procs []procStat, root int) []int {
	children := map[int][]procStat{}
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p)
	}
	var live []int
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			if c.pid == root {
				continue
			}
			queue = append(queue, c.pid)
			if c.state != 'Z' && c.state != 'X' {
				live = append(live, c.pid)
			}
		}
	}
	return live
}
