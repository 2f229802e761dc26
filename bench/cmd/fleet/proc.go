package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// gcCPU is the runtime's estimate of the CPU time its garbage collector took so far
// (marking, assists, pauses; idle-priority marking included).
func gcCPU() time.Duration {
	m := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(m)
	if m[0].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return time.Duration(m[0].Value.Float64() * float64(time.Second))
}

// memStatus returns VmRSS and VmHWM of pid ("self" for this process) in KiB.
func memStatus(pid string) (rss, hwm uint64, err error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm, sc.Err()
}

// memSplit is where the runtime's memory goes (MiB): the heap in use, free heap spans
// kept from the OS (RSS the next GC cycles may reuse), goroutine stacks, the rest of the
// runtime's own, and the heap size the next GC aims at (GOGC, GOMEMLIMIT).
func memSplit(m *runtime.MemStats) string {
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	other := m.Sys - m.HeapSys - m.StackSys
	return fmt.Sprintf("heap in use %.1f, free heap kept %.1f, stacks %.1f, other runtime %.1f MiB; GC goal %.1f MiB, %d GCs",
		mib(m.HeapInuse), mib(m.HeapIdle-m.HeapReleased), mib(m.StackInuse), mib(other), mib(m.NextGC), m.NumGC)
}
